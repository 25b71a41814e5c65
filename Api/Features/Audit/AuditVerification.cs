using System.Data.Common;
using System.Text.Json;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Audit;

/// <summary>What verification found: valid with the head, or the first thing that does not hold.</summary>
public sealed record VerifyOutcome(bool Valid, long Entries, string? Head, long? FirstInvalidSeq, string? FirstInvalidEventId,
    string? Reason)
{
    public static VerifyOutcome Broken(long entries, long? seq, string reason, string? head = null, string? eventId = null) =>
        new(false, entries, head, seq, eventId, reason);
}

/// <summary>
/// Re-verifies the audit trail from the stored rows, streaming, inside one read snapshot:
/// the hash chain (seq gaps, prevHash and hash), the chain's end against what this server committed, the events
/// table against the event entries of the chain (replayed), and every rollup totals are read from (daily, monthly,
/// monthly per unit) against the events.
/// One verification runs at a time: it reads the whole ledger.
/// </summary>
public sealed class AuditVerification(Database database, LedgerWriter writer, ILogger<AuditVerification> logger) : IDisposable
{
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public void Dispose() => _oneAtATime.Dispose();

    public async Task<VerifyOutcome> RunAsync(string? knownHead, CancellationToken ct)
    {
        await _oneAtATime.WaitAsync(ct);
        try
        {
            var outcome = await VerifyAsync(knownHead, ct);
            if (!outcome.Valid)
                logger.LogWarning("Audit verification failed at seq {Seq}, event {EventId}: {Reason}",
                    outcome.FirstInvalidSeq, outcome.FirstInvalidEventId, outcome.Reason);
            return outcome;
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    private async Task<VerifyOutcome> VerifyAsync(string? knownHead, CancellationToken ct)
    {
        // Read before the snapshot starts: everything up to this head was committed before it, so the snapshot holds it.
        var committed = writer.CommittedHead;
        // A read transaction (SQLite's deferred one: its snapshot starts at the first read), writes going on beside it,
        // that the merge of events and entries below walks with several readers at once.
        await using var shared = await SharedSnapshot.BeginAsync(database, ct);
        var (connection, snapshot) = (shared.Connection, shared.Transaction);

        var chain = await VerifyChainAsync(shared, committed, knownHead, ct);
        if (!chain.Valid)
            return chain;
        // Read after the pass: no row this server wrote can lie above this ceiling.
        var ceiling = writer.CommitCeiling;
        var storedHeadSeq = chain.Entries == 0 ? 0 : await LastSeqAsync(connection, snapshot, ct);
        if (storedHeadSeq > ceiling)
            return VerifyOutcome.Broken(chain.Entries, ceiling + 1,
                Problems.Text.Say("审计链在本服务器写入的最后一条之后还有条目：有条目被直接加进了数据库文件。",
                    "The chain goes on past the last entry this server wrote: entries were added in the database file."));

        var ledger = await VerifyEventsAsync(shared, chain.Entries, ct)
            ?? await VerifyRollupsAsync(connection, snapshot, chain.Entries, ct);
        return ledger is null ? chain : ledger with { Head = chain.Head };
    }

    private static async Task<long> LastSeqAsync(DbConnection connection, DbTransaction snapshot, CancellationToken ct)
    {
        await using var command = Command(connection, snapshot, "SELECT coalesce(max(seq), 0) FROM audit_log");
        return (long)(await command.ExecuteScalarAsync(ct) ?? 0L);
    }

    private static async Task<long> CountAsync(DbConnection connection, DbTransaction snapshot, CancellationToken ct)
    {
        await using var command = Command(connection, snapshot, "SELECT count(*) FROM audit_log");
        return (long)(await command.ExecuteScalarAsync(ct) ?? 0L);
    }

    private static async Task<VerifyOutcome> VerifyChainAsync(SharedSnapshot shared, ChainHead committed, string? knownHead,
        CancellationToken ct)
    {
        var (connection, snapshot) = await shared.ReaderAsync(ct);
        await using var command = Command(connection, snapshot,
            "SELECT seq, at, actor_key_id, actor_name, action, entity, data, prev_hash, hash FROM audit_log ORDER BY seq");
        await using var reader = await command.ExecuteReaderAsync(ct);
        var hasher = new EntryHasher();
        long expected = 1, entries = 0;
        var previous = AuditChain.Genesis;
        var knownHeadSeen = knownHead is null;
        while (await reader.ReadAsync(ct))
        {
            entries++;
            var seq = reader.GetInt64(0);
            string? problem = null;
            if (seq != expected)
            {
                var missing = Math.Min(seq, expected);
                return VerifyOutcome.Broken(await CountAsync(shared.Connection, shared.Transaction, ct), missing, seq > expected
                    ? Problems.Text.Say($"第 {expected} 条缺失：审计链从第 {expected - 1} 条跳到第 {seq} 条。", $"Entry {expected} is missing: the chain jumps from {expected - 1} to {seq}.")
                    : Problems.Text.Say($"第 {seq} 条顺序错乱。", $"Entry {seq} is out of order."));
            }
            var prevHash = reader.GetString(7);
            var hash = reader.GetString(8);
            if (!string.Equals(prevHash, previous, StringComparison.Ordinal))
                problem = Problems.Text.Say($"第 {seq} 条未接续第 {seq - 1} 条：其 prevHash 与该条的 hash 不同。", $"Entry {seq} does not follow entry {seq - 1}: its prevHash differs from that entry's hash.");
            else if (!hasher.Matches(hash, previous, seq, reader.GetString(1), NullableString(reader, 2), NullableString(reader, 3),
                         reader.GetString(4), reader.GetString(5), reader.GetString(6)))
                problem = Problems.Text.Say($"第 {seq} 条被改动：其 hash 与内容不符。", $"Entry {seq} was altered: its hash does not match its content.");
            else if (seq == committed.Seq && !string.Equals(hash, committed.Hash, StringComparison.Ordinal))
                problem = Problems.Text.Say($"第 {seq} 条不是本服务器在该位置提交的条目：审计链被改写。", $"Entry {seq} is not the entry this server committed there: the chain was rewritten.");
            if (problem is not null)
                return VerifyOutcome.Broken(await CountAsync(shared.Connection, shared.Transaction, ct), seq, problem);
            knownHeadSeen |= string.Equals(hash, knownHead, StringComparison.Ordinal);
            previous = hash;
            expected++;
        }
        if (expected - 1 < committed.Seq)
            return VerifyOutcome.Broken(entries, expected,
                Problems.Text.Say($"本服务器提交的第 {expected} 到 {committed.Seq} 条缺失。", $"Entries {expected} to {committed.Seq}, which this server committed, are missing."));
        if (!knownHeadSeen)
            return VerifyOutcome.Broken(entries, null, Problems.Text.Say("审计链中没有所给的 knownHead。", "The chain does not contain the given knownHead."));
        return new VerifyOutcome(true, entries, previous, null, null, null);
    }

    private static string? NullableString(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>
    /// Walks events (by id) beside their audit entries: each event's own entries (by entity, then seq: its void, and for
    /// an event of the earlier form its event.created entry, replayed against the row) and the events.created entries
    /// (by seq), whose roots are rebuilt from the rows that name them (<see cref="MerkleEntryWalk"/>). A supersede of
    /// the Merkle form has no entry of its own: the successor's leaf names the old event, so the link is checked both ways
    /// and the old event's void taken from the successor's entry.
    /// </summary>
    private static async Task<VerifyOutcome?> VerifyEventsAsync(SharedSnapshot shared, long entries, CancellationToken ct)
    {
        var (connection, snapshot) = (shared.Connection, shared.Transaction);
        await using var eventCommand = Command(connection, snapshot,
            """
            SELECT e.id, e.metric, e.occurred_on, e.quantity, e.org_unit, e.campaign, e.dimensions, e.external_id, e.note, e.source,
                   e.recorded_at, e.voided_at, e.void_reason, e.supersedes, e.superseded_by, e.audit_seq,
                   s.id, s.supersedes, (SELECT a.at FROM audit_log a WHERE a.seq = s.audit_seq), p.id, p.superseded_by
            FROM events e
            LEFT JOIN events s ON s.id = e.superseded_by
            LEFT JOIN events p ON p.id = e.supersedes
            ORDER BY e.id
            """);
        var auditReader = await shared.ReaderAsync(ct);
        await using var auditCommand = Command(auditReader.Connection, auditReader.Transaction,
            "SELECT seq, action, entity, data FROM audit_log WHERE entity >= 'event:' AND entity < 'event;' ORDER BY entity, seq");
        var merkleReader = await shared.ReaderAsync(ct);
        await using var merkleCommand = Command(merkleReader.Connection, merkleReader.Transaction,
            $"SELECT seq, data FROM audit_log WHERE action = '{CreatedEvents.Action}' ORDER BY seq");
        await using var events = await eventCommand.ExecuteReaderAsync(ct);
        await using var audit = await auditCommand.ExecuteReaderAsync(ct);
        await using var merkle = await merkleCommand.ExecuteReaderAsync(ct);
        var history = new EventHistoryReader(audit);
        var chunks = await shared.ReaderAsync(ct);
        var walk = new MerkleEntryWalk(merkle, chunks.Connection, chunks.Transaction, entries);

        var group = await history.NextAsync(ct);
        while (await events.ReadAsync(ct))
        {
            var eventId = events.GetString(0);
            if (group is not null && string.CompareOrdinal(group.EventId, eventId) < 0)
                return VerifyOutcome.Broken(entries, null, Problems.Text.Say("审计记录中有该事件，但 events 表中它的行已不存在。", "The audit trail records the event but its row is gone from the events table."),
                    eventId: group.EventId);
            var own = group is not null && group.EventId == eventId ? group : null;
            if (own is not null)
                group = await history.NextAsync(ct);
            var problem = await CheckEventAsync(events, own, walk, ct);
            if (problem is not null)
                return problem with { Entries = entries };
        }
        if (await walk.FinishAsync(ct) is { } unfinished)
            return unfinished;
        return group is null ? null
            : VerifyOutcome.Broken(entries, null, Problems.Text.Say("审计记录中有该事件，但 events 表中它的行已不存在。", "The audit trail records the event but its row is gone from the events table."),
                eventId: group.EventId);
    }

    /// <summary>One events row against its entries; null when it holds.</summary>
    private static async Task<VerifyOutcome?> CheckEventAsync(DbDataReader events, EventHistory? own, MerkleEntryWalk walk,
        CancellationToken ct)
    {
        var eventId = events.GetString(0);
        long? auditSeq = events.IsDBNull(15) ? null : events.GetInt64(15);
        EventState? expected;
        if (own?.CreatedSeq is { } createdSeq)
        {
            // The earlier form: the event's own event.created entry holds it whole.
            if (auditSeq != createdSeq)
                return VerifyOutcome.Broken(0, null,
                    Problems.Text.Say($"该事件的 auditSeq（{(auditSeq is null ? "无" : auditSeq)}）不是它的 event.created 条目（{createdSeq}）。",
                        $"The event's auditSeq ({(auditSeq is null ? "none" : auditSeq)}) is not its event.created entry ({createdSeq})."), eventId: eventId);
            expected = own.Replay();
        }
        else
        {
            if (await walk.AddAsync(EventRow.Read(events), auditSeq, ct) is { } broken)
                return broken;
            var noVoid = events.IsDBNull(11) && events.IsDBNull(12) && events.IsDBNull(14);
            if (own is null && noVoid && events.IsDBNull(13))
                return null;
            var created = EventState.Read(events).AsCreated();
            expected = own is null ? created : own.Replay(created);
        }
        if (expected is null)
            return VerifyOutcome.Broken(0, null, own!.Problem!, eventId: eventId);

        // The supersede link, both ways: a successor names this event in its leaf (supersedes), and this event names it back.
        var successor = Text(events, 14);
        if (successor is not null)
        {
            if (Text(events, 16) is null || Text(events, 17) != eventId)
                return VerifyOutcome.Broken(0, null,
                    Problems.Text.Say(
                        $"该事件的 supersededBy 指向 {successor}，{(Text(events, 16) is null ? "但 events 表中没有它" : "但它的 supersedes 没有指回本事件")}。",
                        $"The event's supersededBy names {successor}, {(Text(events, 16) is null ? "which is not in the events table" : "whose supersedes does not name it back")}."),
                    eventId: eventId);
            if (expected.SupersededBy is null && own?.RecordsSupersede != true)
                expected = expected.Superseded(successor, Text(events, 18));
        }
        var predecessor = Text(events, 13);
        if (predecessor is not null && (Text(events, 19) is null || Text(events, 20) != eventId))
            return VerifyOutcome.Broken(0, null,
                Problems.Text.Say(
                    $"该事件的 supersedes 指向 {predecessor}，{(Text(events, 19) is null ? "但 events 表中没有它" : "但它的 supersededBy 没有指回本事件")}。",
                    $"The event's supersedes names {predecessor}, {(Text(events, 19) is null ? "which is not in the events table" : "whose supersededBy does not name it back")}."),
                eventId: eventId);
        return expected.FirstDifference(EventState.Read(events)) is { } mismatch
            ? VerifyOutcome.Broken(0, null, mismatch, eventId: eventId)
            : null;
    }

    private static string? Text(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>
    /// Every rollup a total is read from must hold exactly the sums of active events: daily_rollups against the events,
    /// then monthly_rollups against the verified days and monthly_unit_rollups against the verified months, so each table
    /// is checked against the events by one grouped pass over the table below it (SQLite sorts on disk past its cache).
    /// The first differing row in key order is named.
    /// </summary>
    private static async Task<VerifyOutcome?> VerifyRollupsAsync(DbConnection connection, DbTransaction snapshot, long entries,
        CancellationToken ct)
    {
        foreach (var check in RollupChecks)
        {
            await using var command = Command(connection, snapshot, check.Sql);
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (await reader.ReadAsync(ct))
                return VerifyOutcome.Broken(entries, null, check.Reason(reader));
        }
        return null;
    }

    private sealed record RollupCheck(string Sql, Func<DbDataReader, string> Reason);

    private static string RowReason(string table, string period, DbDataReader row, string rest) =>
        Problems.Text.Say($"{table} 行（{row.GetString(0)}, {row.GetString(1)}, {row.GetString(2)}{rest}）与其事件之和不符"
            + $"（存储为 {Figure(row, 4)} 个事件共 {Figure(row, 3)}，事件合计为 {Figure(row, 6)} 个共 {Figure(row, 5)}）：该{(period == "day" ? "日" : "月")}的合计将是错的。",
            $"{table} row ({row.GetString(0)}, {row.GetString(1)}, {row.GetString(2)}{rest}) differs from the sum of its events "
            + $"(stored {Figure(row, 3)} from {Figure(row, 4)} events, the events give {Figure(row, 5)} from {Figure(row, 6)}): "
            + $"totals for that {period} would be wrong.");

    private static string Figure(DbDataReader row, int ordinal) => row.IsDBNull(ordinal) ? "none" : row.GetInt64(ordinal).ToString(
        System.Globalization.CultureInfo.InvariantCulture);

    private static string CampaignAndDimensions(DbDataReader row) =>
        (row.GetString(7).Length == 0 ? "" : ", campaign " + row.GetString(7)) + (row.GetString(8) == "{}" ? "" : ", " + row.GetString(8));

    private static readonly RollupCheck[] RollupChecks =
    [
        new("""
            WITH sums AS (
                SELECT metric, occurred_on AS day, org_unit, coalesce(campaign, '') AS campaign, dimensions,
                       sum(quantity) AS value, count(*) AS events
                FROM events WHERE voided_at IS NULL
                GROUP BY metric, occurred_on, org_unit, coalesce(campaign, ''), dimensions
            )
            SELECT coalesce(s.metric, r.metric) AS metric, coalesce(s.day, r.day) AS day, coalesce(s.org_unit, r.org_unit) AS unit,
                   r.value, r.events, s.value, s.events, coalesce(s.campaign, r.campaign) AS campaign,
                   coalesce(s.dimensions, r.dimensions) AS dimensions
            FROM sums s
            FULL OUTER JOIN daily_rollups r
              ON r.metric = s.metric AND r.day = s.day AND r.org_unit = s.org_unit AND r.campaign = s.campaign
             AND r.dimensions = s.dimensions
            WHERE s.metric IS NULL OR r.metric IS NULL OR s.value IS DISTINCT FROM r.value OR s.events IS DISTINCT FROM r.events
            ORDER BY metric, day, unit, campaign, dimensions
            LIMIT 1
            """, row => RowReason("daily_rollups", "day", row, CampaignAndDimensions(row))),
        new("""
            WITH sums AS (
                SELECT metric, substr(day, 1, 7) AS month, org_unit, campaign, dimensions, sum(value) AS value, sum(events) AS events
                FROM daily_rollups
                GROUP BY metric, substr(day, 1, 7), org_unit, campaign, dimensions
            )
            SELECT coalesce(s.metric, r.metric) AS metric, coalesce(s.month, r.month) AS month, coalesce(s.org_unit, r.org_unit) AS unit,
                   r.value, r.events, s.value, s.events, coalesce(s.campaign, r.campaign) AS campaign,
                   coalesce(s.dimensions, r.dimensions) AS dimensions
            FROM sums s
            FULL OUTER JOIN monthly_rollups r
              ON r.metric = s.metric AND r.month = s.month AND r.org_unit = s.org_unit AND r.campaign = s.campaign
             AND r.dimensions = s.dimensions
            WHERE s.metric IS NULL OR r.metric IS NULL OR s.value IS DISTINCT FROM r.value OR s.events IS DISTINCT FROM r.events
            ORDER BY metric, month, unit, campaign, dimensions
            LIMIT 1
            """, row => RowReason("monthly_rollups", "month", row, CampaignAndDimensions(row))),
        new("""
            WITH sums AS (
                SELECT metric, month, org_unit, sum(value) AS value, sum(events) AS events
                FROM monthly_rollups
                GROUP BY metric, month, org_unit
            )
            SELECT coalesce(s.metric, r.metric) AS metric, coalesce(s.month, r.month) AS month, coalesce(s.org_unit, r.org_unit) AS unit,
                   r.value, r.events, s.value, s.events
            FROM sums s
            FULL OUTER JOIN monthly_unit_rollups r ON r.metric = s.metric AND r.month = s.month AND r.org_unit = s.org_unit
            WHERE s.metric IS NULL OR r.metric IS NULL OR s.value IS DISTINCT FROM r.value OR s.events IS DISTINCT FROM r.events
            ORDER BY metric, month, unit
            LIMIT 1
            """, row => RowReason("monthly_unit_rollups", "month", row, "")),
    ];

    private static DbCommand Command(DbConnection connection, DbTransaction snapshot, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = snapshot;
        command.CommandText = sql;
        return command;
    }

    /// <summary>
    /// Recomputes entry hashes without re-parsing data: stored data is canonical JSON, so it is written as is. Only when that
    /// differs is the exact definition (<see cref="AuditChain.ComputeHash"/>) consulted, so the result is the same.
    /// </summary>
    private sealed class EntryHasher
    {
        private readonly AuditHasher _hasher = new();

        public bool Matches(string stored, string prevHash, long seq, string at, string? keyId, string? name, string action,
            string entity, string data)
        {
            if (string.Equals(Fast(prevHash, seq, at, keyId, name, action, entity, data), stored, StringComparison.Ordinal))
                return true;
            try
            {
                return string.Equals(AuditChain.ComputeHash(prevHash, seq, at, keyId, name, action, entity, data), stored,
                    StringComparison.Ordinal);
            }
            catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException)
            {
                return false; // data is no longer JSON, or a text column no longer holds valid text
            }
        }

        private string? Fast(string prevHash, long seq, string at, string? keyId, string? name, string action, string entity, string data)
        {
            try
            {
                // Unvalidated data: data that is not JSON cannot hash to the stored value; the exact path then says so.
                return _hasher.Hash(prevHash, seq, at, keyId, name, action, entity, data);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
            {
                return null;
            }
        }
    }
}
