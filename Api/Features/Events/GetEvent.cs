using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Events;

public sealed class GetEventRequest
{
    public string Id { get; set; } = "";
}

[OrgScoped(ScopedName.Event, ScopedIn.Route, "id")]
public sealed class GetEvent(Database database) : Endpoint<GetEventRequest, EventResponse>
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
        var row = await EventRow.FindAsync(connection, req.Id, ct)
            ?? throw ProblemException.NotFound(Text.Say($"没有事件“{Codes.Quote(req.Id)}”。", $"No event '{Codes.Quote(req.Id)}'."));
        await Send.OkAsync(row.ToResponse(), ct);
    }
}
