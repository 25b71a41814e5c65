using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// Events an import has stored in pieces and not yet made visible: each piece is written to a scratch table of the
/// writer's own connection (a TEMP table: nothing of it reaches the database file, its WAL or a backup) in a short
/// command of its own, between other writers' groups; <see cref="Publish"/> then moves the whole import into
/// <c>events</c> in one command, which is what makes it all or nothing. Until then nothing of it is in events, the
/// rollups or the audit chain, so no read can see any of it, and the published events get what a single command would
/// have given them: ids and recorded_at of the publishing group, in file order after every event visible before, one
/// <c>events.created</c> entry. A staged externalId is held: another writer of it is told to retry
/// (<see cref="EventWritePolicy.StoredHead"/>), so the import's events cannot lose the head index of events to a writer
/// that came between two pieces. Staged rows need no durability: an import cut off by a stop (or by the writer
/// reopening its connection after a storage failure) stores nothing and is failed, and its scratch rows go with the
/// connection. On PostgreSQL, where several processes write one database, the table is one UNLOGGED table they all
/// share (migrations/postgresql/0160_import_owners.sql): a hold is seen by every process's writers, and rows of an
/// import whose process is gone are deleted by whichever process finds it (FailInterruptedImportsCommand). Runs inside
/// LedgerWriter commands only.
/// </summary>
public static class StagedEvents
{
    /// <summary>
    /// The scratch table, made (or, on a pooled connection that has it, emptied) each time the writer opens its
    /// connection: rows in file order, <c>n</c>. An import that was staging when the connection was reopened fails at its
    /// publish, which finds fewer rows than it staged.
    /// </summary>
    public const string CreateTable =
        """
        CREATE TEMP TABLE IF NOT EXISTS import_staged_events (
            n            INTEGER PRIMARY KEY,
            import_id    TEXT NOT NULL,
            creates      INTEGER NOT NULL,  -- 1: an event to create; 0: an externalId held only (the rest NULL)
            metric       TEXT NULL,
            occurred_on  TEXT NULL,
            quantity     INTEGER NULL,
            org_unit     TEXT NULL,
            campaign     TEXT NULL,
            dimensions   TEXT NULL,
            external_id  TEXT NULL,
            note         TEXT NULL,
            source       TEXT NOT NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS temp.ux_import_staged_source_external
            ON import_staged_events(source, external_id) WHERE external_id IS NOT NULL;
        DELETE FROM temp.import_staged_events;
        """;

    /// <summary>The SQLite function the publish calls once per row, in file order: the writer's next event id.</summary>
    public const string NextIdFunction = "tally_next_event_id";

    public static void Stage(LedgerContext context, string importId, NewEvent input, string source) =>
        context.Prepared(
            """
            INSERT INTO import_staged_events (import_id, creates, metric, occurred_on, quantity, org_unit, campaign, dimensions,
                                              external_id, note, source)
            VALUES (@import, 1, @metric, @occurredOn, @quantity, @orgUnit, @campaign, @dimensions, @externalId, @note, @source)
            """)
            .Bind("@import", importId).Bind("@metric", input.Metric).Bind("@occurredOn", Day.ToStorage(input.OccurredOn))
            .Bind("@quantity", input.Quantity).Bind("@orgUnit", input.OrgUnit).Bind("@campaign", input.Campaign)
            .Bind("@dimensions", input.DimensionsJson).Bind("@externalId", input.ExternalId).Bind("@note", input.Note)
            .Bind("@source", source).ExecuteNonQuery();

    /// <summary>
    /// Holds an externalId the import decided against its stored head (unchanged, or to be superseded at the publish):
    /// no other writer may change that head before the publish, so the decision still holds then. Held once: a later row
    /// of the file unchanged against the same head asks again.
    /// </summary>
    public static void Hold(LedgerContext context, string importId, string source, string externalId) =>
        context.Prepared(
            "INSERT INTO import_staged_events (import_id, creates, external_id, source) VALUES (@import, 0, @externalId, @source) ON CONFLICT DO NOTHING")
            .Bind("@import", importId).Bind("@externalId", externalId).Bind("@source", source).ExecuteNonQuery();

    /// <summary>Who holds an externalId: one seek of ux_import_staged_source_external.</summary>
    public const string HeldByQuery = "SELECT import_id FROM import_staged_events WHERE source = @source AND external_id = @externalId";

    /// <summary>An import's staged rows in file order: a walk of the table in rowid order, no sorter, so ids are drawn in that order.</summary>
    public const string StagedInFileOrder = "FROM import_staged_events WHERE import_id = @import AND creates = 1 ORDER BY n";

    /// <summary>The publish's one statement: the staged events of an import into events, ids drawn row by row in file order.</summary>
    public const string PublishSql =
        $"""
        INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note,
                            source, recorded_at, audit_seq)
        SELECT {NextIdFunction}(), metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note,
               source, @recordedAt, @auditSeq
        {StagedInFileOrder}
        """;

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
        var moved = context.OnPostgres
            ? PublishRowByRow(context, importId, recordedAt)
            : context.Prepared(PublishSql)
                .Bind("@recordedAt", recordedAt).Bind("@auditSeq", context.CreationSeq).Bind("@import", importId)
                .ExecuteNonQuery();
        using (var reader = context.Prepared($"SELECT {EventRow.Columns} FROM events WHERE seq > @before ORDER BY seq")
                   .Bind("@before", before).ExecuteReader())
        {
            while (reader.Read())
            {
                EventLedger.Created(context, EventRow.Read(reader), actor, rollups);
                if (rollups.Count >= flushAt)
                    rollups.Flush(context);
            }
        }
        return moved;
    }

    /// <summary>
    /// PostgreSQL has no function of the writer's to call from SQL: the staged rows are read in file order and each is
    /// inserted with the writer's next id, through the one prepared statement (so ids keep file order all the same).
    /// </summary>
    private static int PublishRowByRow(LedgerContext context, string importId, string recordedAt)
    {
        var rows = new List<object?[]>();
        using (var reader = context.Prepared(
                       $"SELECT metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note, source {StagedInFileOrder}")
                   .Bind("@import", importId).ExecuteReader())
        {
            while (reader.Read())
            {
                var values = new object?[reader.FieldCount];
                reader.GetValues(values!);
                rows.Add(values);
            }
        }
        var insert = context.Prepared(
            """
            INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note,
                                source, recorded_at, audit_seq)
            VALUES (@id, @metric, @occurredOn, @quantity, @orgUnit, @campaign, @dimensions, @externalId, @note, @source,
                    @recordedAt, @auditSeq)
            """);
        foreach (var row in rows)
        {
            insert.Bind("@id", context.Ids.Next("evt_")).Bind("@metric", row[0]).Bind("@occurredOn", row[1])
                .Bind("@quantity", row[2]).Bind("@orgUnit", row[3]).Bind("@campaign", row[4]).Bind("@dimensions", row[5])
                .Bind("@externalId", row[6]).Bind("@note", row[7]).Bind("@source", row[8])
                .Bind("@recordedAt", recordedAt).Bind("@auditSeq", context.CreationSeq).ExecuteNonQuery();
        }
        return rows.Count;
    }

    /// <summary>
    /// Deletes up to <paramref name="limit"/> staged rows of an import (when null, of every import that has ended: what a
    /// failed drop, or a process that is gone, left; never of one still queued or running, here or in another process);
    /// how many it deleted (the caller repeats until none).
    /// </summary>
    public static int DropPiece(LedgerContext context, string? importId, int limit) =>
        context.Prepared(
            """
            DELETE FROM import_staged_events WHERE n IN (
                SELECT s.n FROM import_staged_events s
                WHERE s.import_id = @import
                   OR (CAST(@import AS TEXT) IS NULL AND NOT EXISTS (
                        SELECT 1 FROM imports i WHERE i.id = s.import_id AND i.status IN ('queued', 'running')))
                ORDER BY s.n LIMIT @limit)
            """)
            .Bind("@import", importId).Bind("@limit", limit).ExecuteNonQuery();
}
