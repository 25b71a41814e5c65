using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Features.Events;
using Tally.Api.Problems;

namespace Tally.Api.Ledger;

/// <summary>A validated event on its way into the ledger.</summary>
public sealed record NewEvent(
    string Metric, DateOnly OccurredOn, long Quantity, string OrgUnit, string? Campaign,
    SortedDictionary<string, string> Dimensions, string? ExternalId, string? Note)
{
    public string DimensionsJson { get; } = JsonSerializer.Serialize(Dimensions);

    /// <summary>Same content as a stored event: what idempotent replay compares.</summary>
    public bool SameContentAs(EventRow row) =>
        row.Metric == Metric && row.OccurredOn == Day.ToStorage(OccurredOn) && row.Quantity == Quantity &&
        row.OrgUnit == OrgUnit && row.Campaign == Campaign && row.Dimensions == DimensionsJson && row.Note == Note;
}

/// <summary>Who records: the key's id and name for the audit trail, its source for idempotency.</summary>
public sealed record Recorder(Actor Actor, string Source);

public enum RecordStatus { Created, Unchanged, Conflict }

public sealed record RecordOutcome(RecordStatus Status, EventRow Event);

/// <summary>
/// The ledger's event operations, run only inside LedgerWriter commands: idempotency, period locks,
/// the insert itself, daily rollup upkeep and the audit entry, all in the caller's transaction.
/// </summary>
public static class EventLedger
{
    /// <summary>Records one event, or finds the one already recorded under the same source and externalId.</summary>
    public static RecordOutcome Record(LedgerContext context, NewEvent input, Recorder recorder, bool audit = true)
    {
        if (input.ExternalId is not null && FindHead(context, recorder.Source, input.ExternalId) is { } existing)
            return new RecordOutcome(input.SameContentAs(existing) ? RecordStatus.Unchanged : RecordStatus.Conflict, existing);

        RequireOpenPeriod(context, input.OccurredOn);
        var row = new EventRow
        {
            Id = context.Ids.Next("evt_"), Metric = input.Metric, OccurredOn = Day.ToStorage(input.OccurredOn),
            Quantity = input.Quantity, OrgUnit = input.OrgUnit, Campaign = input.Campaign, Dimensions = input.DimensionsJson,
            ExternalId = input.ExternalId, Note = input.Note, Source = recorder.Source,
            RecordedAt = Instant.ToStorage(context.Now),
        };
        Insert(context, row, recorder.Actor.KeyId);
        if (audit)
            context.Audit(recorder.Actor, "event.created", "event:" + row.Id, AuditChain.ToJsonObject(row.ToResponse()));
        return new RecordOutcome(RecordStatus.Created, row);
    }

    /// <summary>The current (not superseded) event for a source and externalId.</summary>
    public static EventRow? FindHead(LedgerContext context, string source, string externalId) =>
        context.Connection.QueryFirstOrDefault<EventRow>(
            $"SELECT {EventRow.Columns} FROM events WHERE source = @source AND external_id = @externalId AND superseded_by IS NULL",
            new { source, externalId }, context.Transaction);

    /// <summary>409 period-locked when the event's year is locked.</summary>
    public static void RequireOpenPeriod(LedgerContext context, DateOnly day)
    {
        var locked = context.Connection.ExecuteScalar<bool>(
            "SELECT EXISTS (SELECT 1 FROM periods WHERE year = @year AND locked = 1)", new { year = day.Year },
            context.Transaction);
        if (locked)
            throw new ProblemException(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.PeriodLocked,
                "Period locked", $"The year {day.Year} is locked; nothing of this request was stored."));
    }

    /// <summary>Voids an active event (kept, excluded from totals) and takes it out of the rollups.</summary>
    public static EventRow Void(LedgerContext context, EventRow row, string reason, Actor actor, string? supersededBy = null)
    {
        if (row.VoidedAt is not null)
            throw new ProblemException(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.AlreadyVoided,
                "Already voided", $"Event {row.Id} was voided at {Instant.ToJson(Instant.FromStorage(row.VoidedAt))}."));
        RequireOpenPeriod(context, Day.FromStorage(row.OccurredOn));
        var at = Instant.ToStorage(context.Now);
        context.Connection.Execute(
            """
            UPDATE events SET voided_at = @at, void_reason = @reason, superseded_by = coalesce(@supersededBy, superseded_by)
            WHERE id = @Id AND voided_at IS NULL
            """, new { at, reason, supersededBy, row.Id }, context.Transaction);
        AddToRollups(context, row, -1);
        var voided = new EventRow
        {
            Id = row.Id, Metric = row.Metric, OccurredOn = row.OccurredOn, Quantity = row.Quantity, OrgUnit = row.OrgUnit,
            Campaign = row.Campaign, Dimensions = row.Dimensions, ExternalId = row.ExternalId, Note = row.Note,
            Source = row.Source, RecordedAt = row.RecordedAt, VoidedAt = at, VoidReason = reason,
            Supersedes = row.Supersedes, SupersededBy = supersededBy ?? row.SupersededBy,
        };
        context.Audit(actor, supersededBy is null ? "event.voided" : "event.superseded", "event:" + row.Id,
            new JsonObject { ["id"] = row.Id, ["reason"] = reason, ["supersededBy"] = supersededBy, ["voidedAt"] = at });
        return voided;
    }

    /// <summary>Inserts a new event row and adds it to the rollups.</summary>
    public static void Insert(LedgerContext context, EventRow row, string? keyId)
    {
        context.Connection.Execute(
            """
            INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note,
                                source, key_id, recorded_at, supersedes)
            VALUES (@Id, @Metric, @OccurredOn, @Quantity, @OrgUnit, @Campaign, @Dimensions, @ExternalId, @Note,
                    @Source, @keyId, @RecordedAt, @Supersedes)
            """,
            new
            {
                row.Id, row.Metric, row.OccurredOn, row.Quantity, row.OrgUnit, row.Campaign, row.Dimensions,
                row.ExternalId, row.Note, row.Source, keyId = keyId ?? "", row.RecordedAt, row.Supersedes,
            }, context.Transaction);
        AddToRollups(context, row, +1);
    }

    /// <summary>
    /// Keeps daily_rollups, monthly_rollups and monthly_unit_rollups equal to the sums of active events: +1 for a new
    /// event, -1 for a void.
    /// A row whose last event is voided is removed, so the rollups never list a combination with nothing in it.
    /// </summary>
    public static void AddToRollups(LedgerContext context, EventRow row, int sign)
    {
        var args = new
        {
            row.Metric, Day = row.OccurredOn, Month = row.OccurredOn[..7], row.OrgUnit, Campaign = row.Campaign ?? "",
            row.Dimensions, Value = sign * row.Quantity, Events = sign,
        };
        context.Connection.Execute(
            """
            INSERT INTO daily_rollups (metric, day, org_unit, campaign, dimensions, value, events)
            VALUES (@Metric, @Day, @OrgUnit, @Campaign, @Dimensions, @Value, @Events)
            ON CONFLICT (metric, day, org_unit, campaign, dimensions)
            DO UPDATE SET value = value + excluded.value, events = events + excluded.events;
            INSERT INTO monthly_rollups (metric, month, org_unit, campaign, dimensions, value, events)
            VALUES (@Metric, @Month, @OrgUnit, @Campaign, @Dimensions, @Value, @Events)
            ON CONFLICT (metric, month, org_unit, campaign, dimensions)
            DO UPDATE SET value = value + excluded.value, events = events + excluded.events;
            INSERT INTO monthly_unit_rollups (metric, month, org_unit, value, events)
            VALUES (@Metric, @Month, @OrgUnit, @Value, @Events)
            ON CONFLICT (metric, month, org_unit)
            DO UPDATE SET value = value + excluded.value, events = events + excluded.events;
            """, args, context.Transaction);
        if (sign < 0)
        {
            context.Connection.Execute(
                """
                DELETE FROM daily_rollups
                WHERE metric = @Metric AND day = @Day AND org_unit = @OrgUnit AND campaign = @Campaign
                  AND dimensions = @Dimensions AND events = 0;
                DELETE FROM monthly_rollups
                WHERE metric = @Metric AND month = @Month AND org_unit = @OrgUnit AND campaign = @Campaign
                  AND dimensions = @Dimensions AND events = 0;
                DELETE FROM monthly_unit_rollups
                WHERE metric = @Metric AND month = @Month AND org_unit = @OrgUnit AND events = 0;
                """, args, context.Transaction);
        }
    }
}
