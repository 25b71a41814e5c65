using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Data;
using Tally.Api.Features.Events;
using Tally.Api.Ledger;

namespace Tally.Api.Tests.Infrastructure;

/// <summary>
/// Corrections submitted straight to the ledger, for tests of what reads make of them (the void and upsert endpoints
/// live on another branch): the same EventLedger operations, through the one writer, in its transaction.
/// </summary>
public static class LedgerTestCommands
{
    public static Task<EventRow> VoidAsync(this TallyApp app, string id, string reason = "test void") =>
        app.Services.GetRequiredService<LedgerWriter>().SubmitAsync(new VoidCommand(id, reason), CancellationToken.None);

    /// <summary>Replaces an event by a new one with another quantity, as an upsert does: the old one is voided as superseded.</summary>
    public static Task<EventRow> SupersedeAsync(this TallyApp app, string id, long quantity) =>
        app.Services.GetRequiredService<LedgerWriter>().SubmitAsync(new SupersedeCommand(id, quantity), CancellationToken.None);

    private sealed class VoidCommand(string id, string reason) : LedgerCommand<EventRow>
    {
        protected override EventRow Run(LedgerContext context) =>
            EventLedger.Void(context, EventRow.Find(context.Connection, id, context.Transaction)!, reason, Actor.System);
    }

    private sealed class SupersedeCommand(string id, long quantity) : LedgerCommand<EventRow>
    {
        protected override EventRow Run(LedgerContext context)
        {
            var old = EventRow.Find(context.Connection, id, context.Transaction)!;
            return EventLedger.Supersede(context, old, old.WithQuantity(quantity), new Recorder(Actor.System, old.Source));
        }
    }

    /// <summary>The event's content with another quantity, as an upsert would post it.</summary>
    public static NewEvent WithQuantity(this EventRow row, long quantity) => new(
        row.Metric, Day.FromStorage(row.OccurredOn), quantity, row.OrgUnit, row.Campaign,
        System.Text.Json.JsonSerializer.Deserialize<SortedDictionary<string, string>>(row.Dimensions)!, row.ExternalId, row.Note);
}
