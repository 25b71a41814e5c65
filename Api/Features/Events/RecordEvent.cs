using FastEndpoints;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Security;

namespace Tally.Api.Features.Events;

[OrgScoped(ScopedName.OrgUnit, ScopedIn.Body, "orgUnit")]
public sealed class RecordEvent(LedgerWriter writer, CatalogCache catalog) : Endpoint<RecordEventRequest, EventResponse>
{
    public override void Configure()
    {
        Post("/events");
        Description(b => b.CreatesOrReplays<EventResponse>());
        Policies(ApiScopes.EventsWrite);
        Summary(s =>
        {
            s.Summary = "Record an event";
            s.Description = "201 with the new event. The same externalId from the same source with the same content again "
                + "returns 200 with the original and stores nothing; with other content it is 409 idempotency-conflict.";
            s.Responses[200] = "The event was recorded before (idempotent replay); nothing new was stored.";
        });
    }

    public override async Task HandleAsync(RecordEventRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        var outcome = await writer.SubmitAsync(
            new RecordEventCommand(req.ToNewEvent(catalog.Current), new Recorder(caller.Actor, caller.Source),
                unit => OrgScope.CanReach(caller, unit, catalog.Current)), ct);
        if (outcome.Status == RecordStatus.Created)
        {
            HttpContext.Response.Headers.Location = $"/api/v1/events/{outcome.Event.Id}";
            await Send.ResponseAsync(outcome.Event.ToResponse(), StatusCodes.Status201Created, ct);
        }
        else
        {
            await Send.OkAsync(outcome.Event.ToResponse(), ct);
        }
    }
}

/// <remarks><paramref name="canReach"/>: the org units the caller may see, so a conflict names only events it may see.</remarks>
public sealed class RecordEventCommand(NewEvent input, Recorder recorder, Func<string, bool> canReach) : LedgerCommand<RecordOutcome>
{
    protected override RecordOutcome Run(LedgerContext context) => EventLedger.Record(context, input, recorder, canReach);
}
