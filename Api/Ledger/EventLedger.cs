using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Data;
using Tally.Api.Problems;

namespace Tally.Api.Ledger;

/// <summary>A validated event on its way into the ledger.</summary>
public sealed record NewEvent(
    string Metric, DateOnly OccurredOn, long Quantity, string OrgUnit, string? Campaign,
    SortedDictionary<string, string> Dimensions, string? ExternalId, string? Note)
{
    public string DimensionsJson { get; } = Dimensions.Count == 0 ? "{}" : JsonSerializer.Serialize(Dimensions);

    /// <summary>Same content as a stored event: what idempotent replay compares.</summary>
    public bool SameContentAs(EventRow row) =>
        row.Metric == Metric && row.OccurredOn == Day.ToStorage(OccurredOn) && row.Quantity == Quantity &&
        row.OrgUnit == OrgUnit && row.Campaign == Campaign && row.Dimensions == DimensionsJson && row.Note == Note;
}

/// <summary>Who records: the key's id and name for the audit trail, its source for idempotency.</summary>
public sealed record Recorder(Actor Actor, string Source);

public enum RecordStatus { Created, Unchanged, Conflict, Superseded }

public sealed record RecordOutcome(RecordStatus Status, EventRow Event);

/// <summary>What became of one batch item: the event it created, or the one it matched.</summary>
public sealed record BatchOutcome(RecordStatus Status, string Id);

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
        var row = NewRow(context, input, recorder, Instant.ToStorage(context.Now));
        Insert(context, row, recorder.Actor.KeyId);
        if (audit)
            AuditCreated(context, recorder.Actor, row);
        return new RecordOutcome(RecordStatus.Created, row);
    }

    /// <summary>
    /// Records a batch as sequential posts would, but all or nothing: an item matching an earlier one (stored, or earlier
    /// in this batch) by source and externalId is unchanged when its content is the same; any conflict refuses the
    /// batch naming every conflicting item, and so does any item whose year is locked.
    /// </summary>
    public static IReadOnlyList<BatchOutcome> RecordBatch(LedgerContext context, IReadOnlyList<NewEvent> inputs, Recorder recorder)
    {
        var outcomes = new BatchOutcome[inputs.Count];
        var createdHere = new Dictionary<string, (int Index, EventRow Row)>(StringComparer.Ordinal);
        var toCreate = new List<EventRow>(inputs.Count);
        var conflicts = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var recordedAt = Instant.ToStorage(context.Now);
        for (var i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i];
            if (input.ExternalId is { } externalId)
            {
                if (createdHere.TryGetValue(externalId, out var earlier))
                {
                    if (input.SameContentAs(earlier.Row))
                        outcomes[i] = new BatchOutcome(RecordStatus.Unchanged, earlier.Row.Id);
                    else
                        conflicts[$"events[{i}].externalId"] =
                            [$"externalId '{externalId}' is used by events[{earlier.Index}] of this batch with other content."];
                    continue;
                }
                if (FindHead(context, recorder.Source, externalId) is { } existing)
                {
                    if (input.SameContentAs(existing))
                        outcomes[i] = new BatchOutcome(RecordStatus.Unchanged, existing.Id);
                    else
                        conflicts[$"events[{i}].externalId"] =
                            [$"externalId '{externalId}' was already used by this source with other content."];
                    continue;
                }
            }
            var row = NewRow(context, input, recorder, recordedAt);
            toCreate.Add(row);
            outcomes[i] = new BatchOutcome(RecordStatus.Created, row.Id);
            if (input.ExternalId is not null)
                createdHere[input.ExternalId] = (i, row);
        }
        if (conflicts.Count > 0)
        {
            throw new ProblemException(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.IdempotencyConflict,
                "Idempotency conflict",
                $"{conflicts.Count} item(s) reuse an externalId of this source with other content; nothing of the batch was stored.",
                conflicts));
        }
        var years = new OpenYears();
        foreach (var row in toCreate)
            years.Require(context, Day.FromStorage(row.OccurredOn));
        // Rollups once per (metric, day, unit, campaign, dimensions) of the batch, not once per event.
        var rollups = new RollupDeltas();
        foreach (var row in toCreate)
            InsertCreated(context, row, recorder.Actor, rollups);
        rollups.Flush(context);
        return outcomes;
    }

    /// <summary>
    /// A new event whose idempotency and period the caller has checked: inserted and audited at once, its rollups added to
    /// <paramref name="rollups"/> for the caller to flush.
    /// </summary>
    public static EventRow Create(LedgerContext context, NewEvent input, Recorder recorder, string recordedAt, RollupDeltas rollups)
    {
        var row = NewRow(context, input, recorder, recordedAt);
        InsertCreated(context, row, recorder.Actor, rollups);
        return row;
    }

    private static void InsertCreated(LedgerContext context, EventRow row, Actor actor, RollupDeltas rollups)
    {
        InsertRow(context, row, actor.KeyId);
        rollups.Add(row, +1);
        AuditCreated(context, actor, row);
    }

    /// <summary>
    /// Upsert by (source, externalId): creates the event, finds it unchanged, or supersedes the current one with a new
    /// event (the old one voided with reason "superseded" and linked both ways), all inside the caller's command.
    /// </summary>
    public static RecordOutcome Upsert(LedgerContext context, NewEvent input, Recorder recorder, Func<string, bool> canReach)
    {
        var externalId = input.ExternalId ?? throw new ArgumentException("An upsert needs an externalId.", nameof(input));
        var existing = FindHead(context, recorder.Source, externalId);
        if (existing is null)
            return Record(context, input, recorder);
        if (input.SameContentAs(existing))
            return new RecordOutcome(RecordStatus.Unchanged, existing);
        if (!canReach(existing.OrgUnit))
            throw Unreachable(externalId);
        RequireOpenPeriod(context, input.OccurredOn);
        var replacement = NewRow(context, input, recorder, Instant.ToStorage(context.Now), supersedes: existing.Id);
        // The old row must leave the (source, externalId) head index before the new head goes in, yet it then names a
        // row that does not exist yet: defer foreign keys over those two statements only.
        context.Connection.Execute("PRAGMA defer_foreign_keys = ON", transaction: context.Transaction);
        try
        {
            if (existing.VoidedAt is null)
                Void(context, existing, SupersededReason, recorder.Actor, supersededBy: replacement.Id);
            else
                MarkSuperseded(context, existing, replacement.Id, recorder.Actor);
            Insert(context, replacement, recorder.Actor.KeyId);
        }
        finally
        {
            context.Connection.Execute("PRAGMA defer_foreign_keys = OFF", transaction: context.Transaction);
        }
        AuditCreated(context, recorder.Actor, replacement);
        return new RecordOutcome(RecordStatus.Superseded, replacement);
    }

    public const string SupersededReason = "superseded";

    /// <summary>403: an upsert would supersede an event in an org unit the key cannot reach (named neither: it learns nothing).</summary>
    public static ProblemException Unreachable(string externalId) => ProblemException.Forbidden(
        $"externalId '{externalId}' of this source names an event outside this API key's org unit; this key cannot supersede it.");

    /// <summary>An event voided earlier and now superseded as well: it keeps its void, and gains the link to its successor.</summary>
    private static void MarkSuperseded(LedgerContext context, EventRow row, string supersededBy, Actor actor)
    {
        var day = Day.FromStorage(row.OccurredOn);
        RequireOpenPeriod(context, day);
        context.VoidedYears.Add(day.Year);
        context.Connection.Execute("UPDATE events SET superseded_by = @supersededBy WHERE id = @Id AND superseded_by IS NULL",
            new { supersededBy, row.Id }, context.Transaction);
        context.Audit(actor, "event.superseded", "event:" + row.Id,
            new JsonObject { ["id"] = row.Id, ["reason"] = row.VoidReason, ["supersededBy"] = supersededBy, ["voidedAt"] = row.VoidedAt });
    }

    private static EventRow NewRow(LedgerContext context, NewEvent input, Recorder recorder, string recordedAt,
        string? supersedes = null) => new()
    {
        Id = context.Ids.Next("evt_"), Metric = input.Metric, OccurredOn = Day.ToStorage(input.OccurredOn),
        Quantity = input.Quantity, OrgUnit = input.OrgUnit, Campaign = input.Campaign, Dimensions = input.DimensionsJson,
        ExternalId = input.ExternalId, Note = input.Note, Source = recorder.Source, RecordedAt = recordedAt,
        Supersedes = supersedes,
    };

    /// <summary>The current (not superseded) event for a source and externalId.</summary>
    public static EventRow? FindHead(LedgerContext context, string source, string externalId)
    {
        var query = context.Prepared(
            $"SELECT {EventRow.Columns} FROM events WHERE source = $source AND external_id = $externalId AND superseded_by IS NULL");
        using var reader = query.Bind("$source", source).Bind("$externalId", externalId).ExecuteReader();
        return reader.Read() ? EventRow.Read(reader) : null;
    }

    /// <summary>Whether any event of the source is stored (in this transaction's view).</summary>
    public static bool SourceHasEvents(LedgerContext context, string source) =>
        context.Prepared("SELECT EXISTS (SELECT 1 FROM events WHERE source = $source)").Bind("$source", source)
            .ExecuteScalar() is long and not 0;

    /// <summary>409 period-locked when the event's year is locked.</summary>
    public static void RequireOpenPeriod(LedgerContext context, DateOnly day)
    {
        if (IsLocked(context, day.Year))
            throw PeriodLocked(day.Year);
    }

    internal static bool IsLocked(LedgerContext context, int year) =>
        context.Prepared("SELECT EXISTS (SELECT 1 FROM periods WHERE year = $year AND locked = 1)")
            .Bind("$year", year).ExecuteScalar() is long and not 0;

    internal static ProblemException PeriodLocked(int year) =>
        new(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.PeriodLocked,
            "Period locked", $"The year {year} is locked; nothing of this request was stored."));

    /// <summary>Voids an active event (kept, excluded from totals) and takes it out of the rollups.</summary>
    public static EventRow Void(LedgerContext context, EventRow row, string reason, Actor actor, string? supersededBy = null)
    {
        if (row.VoidedAt is not null)
            throw new ProblemException(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.AlreadyVoided,
                "Already voided", $"Event {row.Id} was voided at {Instant.ToJson(Instant.FromStorage(row.VoidedAt))}."));
        var day = Day.FromStorage(row.OccurredOn);
        RequireOpenPeriod(context, day);
        context.VoidedYears.Add(day.Year);
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
        InsertRow(context, row, keyId);
        AddToRollups(context, row, +1);
    }

    private static void InsertRow(LedgerContext context, EventRow row, string? keyId)
    {
        context.EventsInserted++;
        context.Prepared(
            """
            INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note,
                                source, key_id, recorded_at, supersedes)
            VALUES ($id, $metric, $occurredOn, $quantity, $orgUnit, $campaign, $dimensions, $externalId, $note,
                    $source, $keyId, $recordedAt, $supersedes)
            """)
            .Bind("$id", row.Id).Bind("$metric", row.Metric).Bind("$occurredOn", row.OccurredOn).Bind("$quantity", row.Quantity)
            .Bind("$orgUnit", row.OrgUnit).Bind("$campaign", row.Campaign).Bind("$dimensions", row.Dimensions)
            .Bind("$externalId", row.ExternalId).Bind("$note", row.Note).Bind("$source", row.Source)
            .Bind("$keyId", keyId ?? "").Bind("$recordedAt", row.RecordedAt).Bind("$supersedes", row.Supersedes)
            .ExecuteNonQuery();
    }

    /// <summary>
    /// Keeps daily_rollups, monthly_rollups and monthly_unit_rollups equal to the sums of active events: +1 for a new
    /// event, -1 for a void.
    /// </summary>
    public static void AddToRollups(LedgerContext context, EventRow row, int sign) =>
        UpsertRollup(context, RollupKey.Of(row), sign * row.Quantity, sign);

    /// <summary>Adds to the rollup rows of one key; a row whose last event is voided is removed, so no rollup lists an empty combination.</summary>
    internal static void UpsertRollup(LedgerContext context, RollupKey key, long value, int events)
    {
        context.Prepared(
            """
            INSERT INTO daily_rollups (metric, day, org_unit, campaign, dimensions, value, events)
            VALUES ($metric, $day, $orgUnit, $campaign, $dimensions, $value, $events)
            ON CONFLICT (metric, day, org_unit, campaign, dimensions)
            DO UPDATE SET value = value + excluded.value, events = events + excluded.events;
            INSERT INTO monthly_rollups (metric, month, org_unit, campaign, dimensions, value, events)
            VALUES ($metric, $month, $orgUnit, $campaign, $dimensions, $value, $events)
            ON CONFLICT (metric, month, org_unit, campaign, dimensions)
            DO UPDATE SET value = value + excluded.value, events = events + excluded.events;
            INSERT INTO monthly_unit_rollups (metric, month, org_unit, value, events)
            VALUES ($metric, $month, $orgUnit, $value, $events)
            ON CONFLICT (metric, month, org_unit)
            DO UPDATE SET value = value + excluded.value, events = events + excluded.events;
            """)
            .Bind("$metric", key.Metric).Bind("$day", key.Day).Bind("$month", key.Day[..7]).Bind("$orgUnit", key.OrgUnit)
            .Bind("$campaign", key.Campaign).Bind("$dimensions", key.Dimensions).Bind("$value", value).Bind("$events", events)
            .ExecuteNonQuery();
        if (events < 0)
        {
            context.Prepared(
                """
                DELETE FROM daily_rollups
                WHERE metric = $metric AND day = $day AND org_unit = $orgUnit AND campaign = $campaign
                  AND dimensions = $dimensions AND events = 0;
                DELETE FROM monthly_rollups
                WHERE metric = $metric AND month = $month AND org_unit = $orgUnit AND campaign = $campaign
                  AND dimensions = $dimensions AND events = 0;
                DELETE FROM monthly_unit_rollups
                WHERE metric = $metric AND month = $month AND org_unit = $orgUnit AND events = 0;
                """)
                .Bind("$metric", key.Metric).Bind("$day", key.Day).Bind("$month", key.Day[..7]).Bind("$orgUnit", key.OrgUnit)
                .Bind("$campaign", key.Campaign).Bind("$dimensions", key.Dimensions).ExecuteNonQuery();
        }
    }

    /// <summary>The audit entry of a new event: the event as the API shows it, as canonical JSON.</summary>
    private static void AuditCreated(LedgerContext context, Actor actor, EventRow row) =>
        context.AuditCanonical(actor, "event.created", "event:" + row.Id, EventAuditJson.Canonical(row));

    /// <summary>One daily_rollups row's key ('' for no campaign, so the key stays a plain primary key).</summary>
    internal readonly record struct RollupKey(string Metric, string Day, string OrgUnit, string Campaign, string Dimensions)
    {
        public static RollupKey Of(EventRow row) => new(row.Metric, row.OccurredOn, row.OrgUnit, row.Campaign ?? "", row.Dimensions);
    }
}

/// <summary>
/// Rollup changes summed per (metric, day, unit, campaign, dimensions) and written once per key, instead of three
/// upserts per event: for batches and imports, whose events share few keys.
/// </summary>
public sealed class RollupDeltas
{
    private readonly Dictionary<EventLedger.RollupKey, (long Value, int Events)> _deltas = [];

    /// <summary>Keys waiting to be written; a caller with many flushes when it grows.</summary>
    public int Count => _deltas.Count;

    public void Add(EventRow row, int sign)
    {
        var key = EventLedger.RollupKey.Of(row);
        var (value, events) = _deltas.GetValueOrDefault(key);
        _deltas[key] = (value + sign * row.Quantity, events + sign);
    }

    public void Flush(LedgerContext context)
    {
        foreach (var (key, (value, events)) in _deltas)
            EventLedger.UpsertRollup(context, key, value, events);
        _deltas.Clear();
    }
}

/// <summary>Period locks looked up once per year for a batch or an import (locks cannot change inside one command).</summary>
public sealed class OpenYears
{
    private readonly Dictionary<int, bool> _locked = [];

    /// <summary>409 period-locked when the day's year is locked.</summary>
    public void Require(LedgerContext context, DateOnly day)
    {
        if (!_locked.TryGetValue(day.Year, out var locked))
            _locked[day.Year] = locked = EventLedger.IsLocked(context, day.Year);
        if (locked)
            throw EventLedger.PeriodLocked(day.Year);
    }
}
