using FastEndpoints;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Events;

/// <summary>The event fields of POST /events without externalId, which comes from the route (and never from the body).</summary>
public sealed class UpsertEventRequest : EventFields;

public sealed class UpsertEventValidator : Validator<UpsertEventRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public UpsertEventValidator()
        : this(RequestServices.Catalog, RequestServices.Clock)
    {
    }

    private UpsertEventValidator(CatalogCache catalog, TimeProvider clock) =>
        Include(new EventFieldRules(catalog, clock));
}

public sealed record UpsertEventResponse(string Status, EventResponse Event);

[ProblemResponse(409, "The event's year (or the superseded event's year) is locked.")]
[OrgScoped(ScopedName.OrgUnit, ScopedIn.Body, "orgUnit")]
public sealed class UpsertEvent(LedgerWriter writer, CatalogCache catalog) : Endpoint<UpsertEventRequest, UpsertEventResponse>
{
    public override void Configure()
    {
        Put("/events/external/{externalId}");
        Description(b => b.CreatesOrReplays<UpsertEventResponse>());
        Policies(ApiScopes.EventsWrite);
        Summary(s =>
        {
            s.Summary = "Create, keep or supersede the event a source knows by externalId";
            s.Description = "For systems that re-post a running count. No event of the caller's source under this externalId: "
                + "201 created. The same content: 200 unchanged. Other content: 200 superseded, with a new event whose "
                + "supersedes names the old one, which is voided with reason 'superseded'; both in one transaction.";
            s.Responses[200] = "unchanged (the current event) or superseded (the new event).";
            s.Responses[201] = "created: the first event under this externalId, with a Location header.";
        });
    }

    public override async Task HandleAsync(UpsertEventRequest req, CancellationToken ct)
    {
        var externalId = Route<string>("externalId");
        if (!EventInputRules.IsValidExternalId(externalId))
            throw ProblemException.Validation("externalId", EventInputRules.ExternalIdMessage);
        var caller = HttpContext.Caller();
        var outcome = await writer.SubmitAsync(
            new UpsertEventCommand(req.ToNewEventWith(externalId, catalog.Current), new Recorder(caller.Actor, caller.Source), caller), ct);
        var body = new UpsertEventResponse(outcome.Status.ToString().ToLowerInvariant(), outcome.Event.ToResponse());
        if (outcome.Status == RecordStatus.Created)
        {
            HttpContext.Response.Headers.Location = $"/api/v1/events/{outcome.Event.Id}";
            await Send.ResponseAsync(body, StatusCodes.Status201Created, ct);
        }
        else
        {
            await Send.OkAsync(body, ct);
        }
    }
}

public sealed class UpsertEventCommand(NewEvent input, Recorder recorder, ApiKeyRecord caller) : LedgerCommand<RecordOutcome>
{
    protected override RecordOutcome Run(LedgerContext context) =>
        EventLedger.Upsert(context, input, recorder, orgUnit => OrgScope.CanReach(caller, orgUnit, context.Catalog));
}
