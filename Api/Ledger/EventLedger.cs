using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Data;
using Tally.Api.Problems;

namespace Tally.Api.Ledger;

/// <summary>
/// The ledger's event operations, run only inside LedgerWriter commands: each door (a single POST, a batch, an upsert)
/// asks <see cref="EventWritePolicy"/> what becomes of its input and writes that here (the insert, rollup upkeep and
/// the audit entry), all in the caller's transaction.
/// </summary>
public static class EventLedger
{
    public const string SupersededReason = "superseded";

    /// <summary>
    /// Records one event, or finds the one already recorded under the same source and externalId with the same content;
    /// other content is 409 idempotency-conflict.
    /// </summary>
    public static RecordOutcome Record(LedgerContext context, NewEvent input, Recorder recorder, Func<string, bool> canReach)
    {
        var policy = new EventWritePolicy(context, recorder, canReach);
        var existing = input.ExternalId is null ? null : policy.StoredHead(input.ExternalId);
        switch (policy.Decide(input, existing, mayReplace: false))
        {
            case RecordStatus.Unchanged:
                return new RecordOutcome(RecordStatus.Unchanged, existing!);
            case RecordStatus.Conflict:
                throw EventWritePolicy.IdempotencyConflict(new Dictionary<string, string[]>
                {
                    ["externalId"] = [policy.ConflictWithStored(input.ExternalId!, existing!)],
                });
        }
        var row = NewRow(context, input, recorder, Instant.ToStorage(context.Now));
        Insert(context, row, recorder.Actor);
        return new RecordOutcome(RecordStatus.Created, row);
    }

    /// <summary>
    /// Records a batch as sequential posts would, but all or nothing: an item matching an earlier one (stored, or earlier
    /// in this batch) by source and externalId is unchanged when its content is the same; any conflict refuses the
    /// batch naming every conflicting item, and so does any item whose year is locked.
    /// </summary>
    public static IReadOnlyList<BatchOutcome> RecordBatch(LedgerContext context, IReadOnlyList<NewEvent> inputs, Recorder recorder,
        Func<string, bool> canReach)
    {
        var policy = new EventWritePolicy(context, recorder, canReach);
        policy.Prefetch(inputs.Select(input => input.ExternalId).OfType<string>());
        var outcomes = new BatchOutcome[inputs.Count];
        var createdHere = new Dictionary<string, (int Index, EventRow Row)>(StringComparer.Ordinal);
        var toCreate = new List<EventRow>(inputs.Count);
        var conflicts = new Dictionary<string, string[]>(StringComparer.Ordinal);
        var recordedAt = Instant.ToStorage(context.Now);
        for (var i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i];
            RecordStatus status;
            EventRow? existing = null;
            if (input.ExternalId is { } externalId && createdHere.TryGetValue(externalId, out var earlier))
            {
                existing = earlier.Row;
                status = policy.DecideAfterEarlier(input, input.SameContentAs(earlier.Row), mayReplace: false);
                if (status == RecordStatus.Conflict)
                    conflicts[$"events[{i}].externalId"] =
                        [EventWritePolicy.ConflictWithEarlier(externalId, Text.Say($"本批的 events[{earlier.Index}]", $"events[{earlier.Index}] of this batch"))];
            }
            else
            {
                existing = input.ExternalId is null ? null : policy.StoredHead(input.ExternalId);
                status = policy.Decide(input, existing, mayReplace: false);
                if (status == RecordStatus.Conflict)
                    conflicts[$"events[{i}].externalId"] = [policy.ConflictWithStored(input.ExternalId!, existing!)];
            }
            if (status == RecordStatus.Unchanged)
                outcomes[i] = new BatchOutcome(RecordStatus.Unchanged, existing!.Id);
            if (status != RecordStatus.Created)
                continue;
            var row = NewRow(context, input, recorder, recordedAt);
            toCreate.Add(row);
            outcomes[i] = new BatchOutcome(RecordStatus.Created, row.Id);
            if (input.ExternalId is not null)
                createdHere[input.ExternalId] = (i, row);
        }
        if (conflicts.Count > 0)
            throw EventWritePolicy.IdempotencyConflict(conflicts);
        // Rollups once per (metric, day, unit, campaign, dimensions) of the batch, not once per event.
        var rollups = new RollupDeltas();
        WriteRows(context, toCreate);
        foreach (var row in toCreate)
            Created(context, row, recorder.Actor, rollups);
        rollups.Flush(context);
        return outcomes;
    }

    /// <summary>
    /// A new event the policy decided to create: inserted and audited at once, its rollups added to
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
        WriteRow(context, row);
        Created(context, row, actor, rollups);
    }

    /// <summary>
    /// What a new event row adds once it is in events: its leaf in the command's events.created entry, its rollups (to
    /// <paramref name="rollups"/>, for the caller to flush) and its as-of change. For rows inserted here and for an
    /// import's rows moved in by its publish (<see cref="StagedEvents.Publish"/>).
    /// </summary>
    internal static void Created(LedgerContext context, EventRow row, Actor actor, RollupDeltas rollups)
    {
        Counted(context, row, actor);
        rollups.Add(row);
        context.AsOf.Add(row, row.RecordedAt, +1);
    }

    /// <summary>
    /// Upsert by (source, externalId): creates the event, finds it unchanged, or supersedes the current one with a new
    /// event (the old one voided with reason "superseded" and linked both ways), all inside the caller's command.
    /// </summary>
    public static RecordOutcome Upsert(LedgerContext context, NewEvent input, Recorder recorder, Func<string, bool> canReach)
    {
        var externalId = input.ExternalId ?? throw new ArgumentException("An upsert needs an externalId.", nameof(input));
        var policy = new EventWritePolicy(context, recorder, canReach);
        var existing = policy.StoredHead(externalId);
        switch (policy.Decide(input, existing, mayReplace: true))
        {
            case RecordStatus.Unchanged:
                return new RecordOutcome(RecordStatus.Unchanged, existing!);
            case RecordStatus.Superseded:
                return new RecordOutcome(RecordStatus.Superseded, Supersede(context, existing!, input, recorder));
        }
        var row = NewRow(context, input, recorder, Instant.ToStorage(context.Now));
        Insert(context, row, recorder.Actor);
        return new RecordOutcome(RecordStatus.Created, row);
    }

    /// <summary>
    /// Replaces <paramref name="existing"/> (the head of the input's externalId) with a new event, as the policy decided
    /// (its reach and both years checked): the old one voided with reason "superseded" (or, voided already, linked).
    /// The void has no audit entry of its own: the new event's leaf names the old one (<c>supersedes</c>) in the
    /// command's events.created entry, which records both (the old event voided at that entry's instant, reason
    /// "superseded", unless it was voided before).
    /// </summary>
    public static EventRow Supersede(LedgerContext context, EventRow existing, NewEvent input, Recorder recorder)
    {
        var replacement = NewRow(context, input, recorder, Instant.ToStorage(context.Now), supersedes: existing.Id);
        // The old row must leave the (source, externalId) head index before the new head goes in, yet it then names a
        // row that does not exist yet: defer foreign keys over those two statements only.
        context.Connection.Execute(context.OnPostgres ? "SET CONSTRAINTS ALL DEFERRED" : "PRAGMA defer_foreign_keys = ON",
            transaction: context.Transaction);
        try
        {
            if (existing.VoidedAt is null)
                VoidChecked(context, existing, SupersededReason, recorder.Actor, supersededBy: replacement.Id,
                    correction: Recordings.SameCell(existing, replacement.Metric, replacement.OccurredOn, replacement.OrgUnit));
            else
                MarkSuperseded(context, existing, replacement.Id);
            Insert(context, replacement, recorder.Actor);
        }
        finally
        {
            // PostgreSQL checks the deferred keys here, as SQLite does at its commit.
            context.Connection.Execute(context.OnPostgres ? "SET CONSTRAINTS ALL IMMEDIATE" : "PRAGMA defer_foreign_keys = OFF",
                transaction: context.Transaction);
        }
        return replacement;
    }

    /// <summary>An event voided earlier and now superseded as well: it keeps its void, and gains the link to its successor.</summary>
    private static void MarkSuperseded(LedgerContext context, EventRow row, string supersededBy)
    {
        context.VoidedYears.Add(Day.FromStorage(row.OccurredOn).Year);
        context.Connection.Execute("UPDATE events SET superseded_by = @supersededBy WHERE id = @Id AND superseded_by IS NULL",
            new { supersededBy, row.Id }, context.Transaction);
    }

    private static EventRow NewRow(LedgerContext context, NewEvent input, Recorder recorder, string recordedAt,
        string? supersedes = null) => new()
    {
        Id = context.Ids.Next("evt_"), Metric = input.Metric, OccurredOn = Day.ToStorage(input.OccurredOn),
        Quantity = input.Quantity, OrgUnit = input.OrgUnit, Campaign = input.Campaign, Dimensions = input.DimensionsJson,
        ExternalId = input.ExternalId, Note = input.Note, Source = recorder.Source, RecordedAt = recordedAt,
        Supersedes = supersedes, AuditSeq = context.CreationSeq,
    };

    /// <summary>The head event of a source and externalId: one seek of ux_events_source_external_head.</summary>
    public const string HeadQuery =
        $"SELECT {EventRow.Columns} FROM events WHERE source = @source AND external_id = @externalId AND superseded_by IS NULL";

    /// <summary>Whether the source has a head event with an externalId: one seek of the head index.</summary>
    public const string SourceHasHeadsQuery =
        "SELECT EXISTS (SELECT 1 FROM events WHERE source = @source AND external_id IS NOT NULL AND superseded_by IS NULL)";

    /// <summary>
    /// Whether any event of the source could be the stored head of an externalId (in this transaction's view): when
    /// none can, an import of the source need not look each row's externalId up.
    /// </summary>
    public static bool SourceHasHeads(LedgerContext context, string source) =>
        context.Prepared(SourceHasHeadsQuery).Bind("@source", source).ExecuteFlag();

    /// <summary>Voids an active event (kept, excluded from totals) and takes it out of the rollups; 409 when its year is locked.</summary>
    public static EventRow Void(LedgerContext context, EventRow row, string reason, Actor actor)
    {
        if (row.VoidedAt is not null)
            throw new ProblemException(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.AlreadyVoided,
                Text.Say("事件已作废", "Already voided"), Text.Say($"事件 {row.Id} 已于 {Instant.ToJson(Instant.FromStorage(row.VoidedAt))} 作废。",
                    $"Event {row.Id} was voided at {Instant.ToJson(Instant.FromStorage(row.VoidedAt))}.")));
        new EventWritePolicy(context, new Recorder(actor, row.Source)).RequireWritable(row);
        return VoidChecked(context, row, reason, actor, supersededBy: null);
    }

    /// <param name="correction">A supersede whose replacement lands in the same (metric, month, unit) cell: the cell keeps its first recording time.</param>
    private static EventRow VoidChecked(LedgerContext context, EventRow row, string reason, Actor actor, string? supersededBy,
        bool correction = false)
    {
        context.VoidedYears.Add(Day.FromStorage(row.OccurredOn).Year);
        var at = Instant.ToStorage(context.Now);
        context.Connection.Execute(
            """
            UPDATE events SET voided_at = @at, void_reason = @reason, superseded_by = coalesce(@supersededBy, superseded_by)
            WHERE id = @Id AND voided_at IS NULL
            """, new { at, reason, supersededBy, row.Id }, context.Transaction);
        Rollups.Add(context, row, -1);
        if (!correction)
            Recordings.Removed(context, row);
        var voided = new EventRow
        {
            Id = row.Id, Metric = row.Metric, OccurredOn = row.OccurredOn, Quantity = row.Quantity, OrgUnit = row.OrgUnit,
            Campaign = row.Campaign, Dimensions = row.Dimensions, ExternalId = row.ExternalId, Note = row.Note,
            Source = row.Source, RecordedAt = row.RecordedAt, VoidedAt = at, VoidReason = reason,
            Supersedes = row.Supersedes, SupersededBy = supersededBy ?? row.SupersededBy, AuditSeq = row.AuditSeq,
        };
        // A supersede is recorded by the successor's leaf in the command's events.created entry; a void by its own entry.
        if (supersededBy is null)
            context.Audit(actor, "event.voided", "event:" + row.Id,
                new JsonObject { ["id"] = row.Id, ["reason"] = reason, ["supersededBy"] = null, ["voidedAt"] = at });
        return voided;
    }

    /// <summary>Inserts a new event row and adds it to the rollups.</summary>
    private static void Insert(LedgerContext context, EventRow row, Actor actor)
    {
        WriteRow(context, row);
        Counted(context, row, actor);
        Rollups.Add(context, row, +1);
        Recordings.Added(context, row);
    }

    /// <summary>A new event counted: the events-stored metric, and its leaf in the command's events.created entry.</summary>
    private static void Counted(LedgerContext context, EventRow row, Actor actor)
    {
        context.EventsInserted++;
        context.RecordCreated(row, actor);
    }

    /// <summary>
    /// The inserts of many new rows. SQLite runs its prepared insert per row (a call into the library); PostgreSQL gets
    /// <see cref="BulkRows"/> rows per statement, as arrays unnested server-side, not one round trip per row.
    /// </summary>
    private static void WriteRows(LedgerContext context, List<EventRow> rows)
    {
        if (!context.OnPostgres || rows.Count < 2)
        {
            foreach (var row in rows)
                WriteRow(context, row);
            return;
        }
        foreach (var chunk in rows.Chunk(BulkRows))
            context.Write(
                """
                INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note,
                                    source, recorded_at, supersedes, audit_seq)
                SELECT * FROM unnest(@id::text[], @metric::text[], @occurredOn::text[], @quantity::bigint[], @orgUnit::text[],
                                     @campaign::text[], @dimensions::text[], @externalId::text[], @note::text[], @source::text[],
                                     @recordedAt::text[], @supersedes::text[], @auditSeq::bigint[])
                """)
                .Bind("@id", chunk.Select(r => r.Id).ToArray()).Bind("@metric", chunk.Select(r => r.Metric).ToArray())
                .Bind("@occurredOn", chunk.Select(r => r.OccurredOn).ToArray()).Bind("@quantity", chunk.Select(r => r.Quantity).ToArray())
                .Bind("@orgUnit", chunk.Select(r => r.OrgUnit).ToArray()).Bind("@campaign", chunk.Select(r => r.Campaign).ToArray())
                .Bind("@dimensions", chunk.Select(r => r.Dimensions).ToArray()).Bind("@externalId", chunk.Select(r => r.ExternalId).ToArray())
                .Bind("@note", chunk.Select(r => r.Note).ToArray()).Bind("@source", chunk.Select(r => r.Source).ToArray())
                .Bind("@recordedAt", chunk.Select(r => r.RecordedAt).ToArray()).Bind("@supersedes", chunk.Select(r => r.Supersedes).ToArray())
                .Bind("@auditSeq", chunk.Select(r => r.AuditSeq).ToArray()).Send();
    }

    /// <summary>Rows per PostgreSQL bulk insert.</summary>
    private const int BulkRows = 5000;

    /// <summary>The insert of a new event row (its auditSeq names the command's events.created entry).</summary>
    private static void WriteRow(LedgerContext context, EventRow row) =>
        context.Write(
            """
            INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note,
                                source, recorded_at, supersedes, audit_seq)
            VALUES (@id, @metric, @occurredOn, @quantity, @orgUnit, @campaign, @dimensions, @externalId, @note,
                    @source, @recordedAt, @supersedes, @auditSeq)
            """)
            .Bind("@id", row.Id).Bind("@metric", row.Metric).Bind("@occurredOn", row.OccurredOn).Bind("@quantity", row.Quantity)
            .Bind("@orgUnit", row.OrgUnit).Bind("@campaign", row.Campaign).Bind("@dimensions", row.Dimensions)
            .Bind("@externalId", row.ExternalId).Bind("@note", row.Note).Bind("@source", row.Source)
            .Bind("@recordedAt", row.RecordedAt).Bind("@supersedes", row.Supersedes)
            .Bind("@auditSeq", row.AuditSeq).Send();
}
