using FastEndpoints;
using Tally.Api.Catalog;
using Tally.Api.Data;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Events;

public sealed class GetEventRequest
{
    public string Id { get; set; } = "";
}

public sealed class GetEvent(Database database, CatalogCache catalog) : Endpoint<GetEventRequest, EventResponse>
{
    public override void Configure()
    {
        Get("/events/{id}");
        Policies(ApiScopes.EventsRead);
        Summary(s => s.Summary = "Get an event, active or voided");
    }

    public override async Task HandleAsync(GetEventRequest req, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var row = await EventRow.FindAsync(connection, req.Id, ct);
        var caller = HttpContext.Caller();
        // A bound key gets the same 403 whether the id is outside its subtree or names nothing.
        if (caller.OrgUnit is not null && (row is null || !OrgScope.CanReach(caller, row.OrgUnit, catalog.Current)))
            throw ProblemException.Forbidden($"Event '{req.Id}' is not within org unit '{caller.OrgUnit}'.");
        if (row is null)
            throw ProblemException.NotFound($"No event '{req.Id}'.");
        await Send.OkAsync(row.ToResponse(), ct);
    }
}
