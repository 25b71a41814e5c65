using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// Events an import has stored in pieces and not yet made visible (migration 0150, import_staged_events): each piece
/// is written in a short command of its own, between other writers' groups; <see cref="Publish"/> then moves the whole
/// import into <c>events</c> in one command, which is what makes it all or nothing. Until then nothing of it is in
/// events, the rollups or the audit chain, so no read can see any of it, and the published events get what a single
/// command would have given them: ids and recorded_at of the publishing group, in file order after every event visible
/// before, one <c>events.created</c> entry. A staged externalId is held: another writer of it is told to retry
/// (<see cref="HeldBy"/>), so the import's events cannot lose the head index of events to a writer that came between
/// two pieces. Runs inside LedgerWriter commands only.
/// </summary>
public static class StagedEvents
{
    /// <summary>The SQLite function the publish calls once per row, in file order: the writer's next event id.</summary>
    public const string NextIdFunction = "tally_next_event_id";

    public static void Stage(LedgerContext context, string importId, NewEvent input, string source) =>
        context.Prepared(
            """
            INSERT INTO import_staged_events (import_id, metric, occurred_on, quantity, org_unit, campaign, dimensions,
                                              external_id, note, source)
            VALUES ($import, $metric, $occurredOn, $quantity, $orgUnit, $campaign, $dimensions, $externalId, $note, $source)
            """)
            .Bind("$import", importId).Bind("$metric", input.Metric).Bind("$occurredOn", Day.ToStorage(input.OccurredOn))
            .Bind("$quantity", input.Quantity).Bind("$orgUnit", input.OrgUnit).Bind("$campaign", input.Campaign)
            .Bind("$dimensions", input.DimensionsJson).Bind("$externalId", input.ExternalId).Bind("$note", input.Note)
            .Bind("$source", source).ExecuteNonQuery();

    /// <summary>Who holds an externalId: one seek of ux_import_staged_source_external.</summary>
    public const string HeldByQuery = "SELECT import_id FROM import_staged_events WHERE source = $source AND external_id = $externalId";

    /// <summary>An import's staged rows in file order: a walk of the table in rowid order, no sorter, so ids are drawn in that order.</summary>
    public const string StagedInFileOrder = "FROM import_staged_events WHERE import_id = $import ORDER BY n";

    /// <summary>The import that has staged an event under this source and externalId, or null: one seek.</summary>
    public static string? HeldBy(LedgerContext context, string source, string externalId) =>
        context.Prepared(HeldByQuery)
            .Bind("$source", source).Bind("$externalId", externalId).ExecuteScalar() as string;

    /// <summary>
    /// Moves the import's staged events into events as events of this command, in file order, recorded at the group's
    /// instant: one INSERT … SELECT (each row's id from the writer's id generator, so ids keep commit order), then one
    /// pass over the new rows for what each event adds (its leaf in the command's audit entry, rollups, as-of changes,
    /// recording spans). Returns how many it moved. The staged rows stay until <see cref="DropPiece"/>: once published,
    /// the event at the head of events answers for each externalId first, so they hold nothing.
    /// </summary>
    public static int Publish(LedgerContext context, string importId, Actor actor, RollupDeltas rollups, int flushAt)
    {
        var before = (long)context.Prepared("SELECT coalesce(max(seq), 0) FROM events").ExecuteScalar()!;
        var recordedAt = Instant.ToStorage(context.Now);
        // The staged rows are read in rowid order (n is the rowid): no sorter, so each row's id is drawn in file order
        // (LeanSchemaTests shows the plan).
        var moved = context.Prepared(
            $"""
            INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note,
                                source, recorded_at, audit_seq)
            SELECT {NextIdFunction}(), metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note,
                   source, $recordedAt, $auditSeq
            {StagedInFileOrder}
            """)
            .Bind("$recordedAt", recordedAt).Bind("$auditSeq", context.CreationSeq).Bind("$import", importId)
            .ExecuteNonQuery();
        using (var reader = context.Prepared($"SELECT {EventRow.Columns} FROM events WHERE seq > $before ORDER BY seq")
                   .Bind("$before", before).ExecuteReader())
        {
            while (reader.Read())
            {
                var row = EventRow.Read(reader);
                context.EventsInserted++;
                context.RecordCreated(row, actor);
                rollups.Add(row);
                context.AsOf.Add(row, row.RecordedAt, +1);
                if (rollups.Count >= flushAt)
                    rollups.Flush(context);
            }
        }
        return moved;
    }

    /// <summary>Deletes up to <paramref name="limit"/> staged rows of an import; how many it deleted (the caller repeats until none).</summary>
    public static int DropPiece(LedgerContext context, string importId, int limit) =>
        context.Prepared(
            """
            DELETE FROM import_staged_events WHERE n IN (
                SELECT n FROM import_staged_events WHERE import_id = $import ORDER BY n LIMIT $limit)
            """)
            .Bind("$import", importId).Bind("$limit", limit).ExecuteNonQuery();

    /// <summary>The imports that have staged rows (a stop may have left some).</summary>
    public static IReadOnlyList<string> StagedImports(LedgerContext context) =>
        [.. Dapper.SqlMapper.Query<string>(context.Connection, "SELECT DISTINCT import_id FROM import_staged_events",
            transaction: context.Transaction)];
}
