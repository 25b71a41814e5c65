using System.Buffers;
using System.Data.Common;
using System.Text.Json;
using Tally.Api.Ledger;
using Tally.Api.Problems;

namespace Tally.Api.Features.Audit;

/// <summary>
/// Walks the events.created entries (by seq) beside the events rows that name them (by id), rebuilding every leaf from
/// its row and each entry's root from its leaves as they stream past: a command's events are consecutive in id order,
/// so one entry is open at a time and memory stays O(log n) (plus one hash per 1024 events for the stored chunks).
/// Names the first entry whose events no longer hash to its root (a row changed), that holds fewer rows than it records
/// (rows removed) or more (rows added), and the first row that no entry including it names (a row inserted).
/// </summary>
public sealed class MerkleEntryWalk(DbDataReader entries, DbConnection connection, DbTransaction snapshot, long chainEntries)
{
    private readonly ArrayBufferWriter<byte> _leaf = new(1024);
    private Run? _open;
    private EntryRecord? _next;
    private bool _exhausted;

    /// <summary>One events.created entry as its data records it.</summary>
    private sealed record EntryRecord(long Seq, long Events, string? FirstEventId, string? LastEventId, string? Root);

    /// <summary>The open entry: what its rows give so far.</summary>
    private sealed class Run(EntryRecord entry)
    {
        public EntryRecord Entry { get; } = entry;
        public MerkleAccumulator Tree { get; } = new();
        public List<string> ChunkFirstIds { get; } = [];
        public string? FirstId { get; set; }
        public string? LastId { get; set; }
    }

    /// <summary>The next events row (a row whose creation is recorded by an events.created entry, not its own).</summary>
    public async Task<VerifyOutcome?> AddAsync(EventRow row, long? auditSeq, CancellationToken ct)
    {
        if (_open is { } open)
        {
            if (open.Entry.Seq == auditSeq)
            {
                if (open.Entry.LastEventId is { } last && string.CompareOrdinal(row.Id, last) > 0)
                    return Broken(open.Entry.Seq, row.Id,
                        Text.Say($"该事件指向审计条目 {auditSeq}，却排在该条目所记最后一个事件（{last}）之后：它是被直接加进数据库文件的。",
                            $"The event names audit entry {auditSeq} but lies after the last event it records ({last}): it was added in the database file."));
                Feed(open, row);
                return null;
            }
            if (open.Entry.LastEventId is { } end && string.CompareOrdinal(row.Id, end) <= 0)
                return Broken(open.Entry.Seq, row.Id,
                    Text.Say($"该事件位于审计条目 {open.Entry.Seq} 所记的事件之间，却{(auditSeq is null ? "未指向任何条目" : $"指向条目 {auditSeq}")}：它是被直接加进数据库文件的（或其 auditSeq 被改过）。",
                        $"The event lies among the events audit entry {open.Entry.Seq} records but names {(auditSeq is null ? "no entry" : $"entry {auditSeq}")}: "
                        + "it was added in the database file (or its auditSeq was changed)."));
            if (await CloseAsync(open, ct) is { } closed)
                return closed;
            _open = null;
        }
        // An entry before the one this row names that no row named: all its events are gone.
        if (await PeekAsync(ct) is { } next && auditSeq is not null && next.Seq < auditSeq)
            return Broken(next.Seq, next.Events == 1 ? next.FirstEventId : null,
                Gone(next));
        if (auditSeq is null || await PeekAsync(ct) is not { } entry || entry.Seq != auditSeq)
            return Broken(null, row.Id,
                Text.Say("该事件没有记录其创建的审计条目（既没有 event.created 条目，也没有包含它的 events.created 条目）：它是被直接加进数据库文件的。",
                    "The event has no audit entry recording its creation (no event.created entry, and no events.created entry includes it): "
                    + "it was added in the database file."));
        _next = null;
        if (entry.FirstEventId is { } first && string.CompareOrdinal(row.Id, first) < 0)
            return Broken(entry.Seq, row.Id,
                Text.Say($"该事件指向审计条目 {entry.Seq}，却排在该条目所记第一个事件（{first}）之前：它是被直接加进数据库文件的。",
                    $"The event names audit entry {entry.Seq} but lies before the first event it records ({first}): it was added in the database file."));
        _open = new Run(entry);
        Feed(_open, row);
        return null;
    }

    /// <summary>After the last row: the open entry must be whole, and no entry may be left without rows.</summary>
    public async Task<VerifyOutcome?> FinishAsync(CancellationToken ct)
    {
        if (_open is { } open && await CloseAsync(open, ct) is { } closed)
            return closed;
        _open = null;
        if (await PeekAsync(ct) is { } next)
            return Broken(next.Seq, next.Events == 1 ? next.FirstEventId : null,
                Gone(next));
        return null;
    }

    private void Feed(Run run, EventRow row)
    {
        if (run.Tree.Count % MerkleAccumulator.ChunkLeaves == 0)
            run.ChunkFirstIds.Add(row.Id);
        run.Tree.AddLeaf(EventLeafJson.LeafHash(row, _leaf));
        run.FirstId ??= row.Id;
        run.LastId = row.Id;
    }

    private async Task<VerifyOutcome?> CloseAsync(Run run, CancellationToken ct)
    {
        var entry = run.Entry;
        var count = run.Tree.Count;
        if (entry.Root is null || entry.FirstEventId is null || entry.LastEventId is null)
            return Broken(entry.Seq, null, Text.Say($"审计条目 {entry.Seq} 是 events.created 条目，但其数据缺少 events、firstEventId、lastEventId 或 root。",
                $"Audit entry {entry.Seq} is an events.created entry whose data does not record events, first, last and root."));
        if (count < entry.Events)
            return Broken(entry.Seq, entry.Events == 1 ? entry.FirstEventId : null,
                Text.Say($"审计条目 {entry.Seq} 记录了 {entry.Events} 个事件（{entry.FirstEventId} 至 {entry.LastEventId}），events 表中只有 {count} 个：其中 {entry.Events - count} 个已从 events 表中消失。",
                    $"Audit entry {entry.Seq} records {entry.Events} event(s) ({entry.FirstEventId} to {entry.LastEventId}); the events table holds {count}: "
                    + $"{entry.Events - count} of them are gone from the events table."));
        if (count > entry.Events)
            return Broken(entry.Seq, null,
                Text.Say($"审计条目 {entry.Seq} 记录了 {entry.Events} 个事件，events 表中却有 {count} 行指向它：有行被直接加进了数据库文件。",
                    $"Audit entry {entry.Seq} records {entry.Events} event(s); {count} rows of the events table name it: rows were added in the database file."));
        var root = Convert.ToHexStringLower(run.Tree.Root()!);
        if (run.FirstId != entry.FirstEventId || run.LastId != entry.LastEventId)
            return Broken(entry.Seq, run.FirstId != entry.FirstEventId ? run.FirstId : run.LastId,
                Text.Say($"审计条目 {entry.Seq} 记录的事件是 {entry.FirstEventId} 至 {entry.LastEventId}，其行却是 {run.FirstId} 至 {run.LastId}：有行在数据库文件中被替换了。",
                    $"Audit entry {entry.Seq} records events {entry.FirstEventId} to {entry.LastEventId}, but its rows run from {run.FirstId} to {run.LastId}: "
                    + "rows were replaced in the database file."));
        var stored = await StoredChunksAsync(entry.Seq, ct);
        var changedChunk = FirstChangedChunk(run, stored);
        if (!string.Equals(root, entry.Root, StringComparison.Ordinal))
        {
            var where = entry.Events == 1 ? Text.Say("它的事件", "its event")
                : changedChunk is { } c && c < run.ChunkFirstIds.Count
                    ? Text.Say($"从 {run.ChunkFirstIds[c]} 起的某个事件（第 {c} 块，共 {run.ChunkFirstIds.Count} 块，每块 {MerkleAccumulator.ChunkLeaves} 个事件）",
                        $"one of its events from {run.ChunkFirstIds[c]} (chunk {c} of {run.ChunkFirstIds.Count}, {MerkleAccumulator.ChunkLeaves} events each)")
                    : Text.Say($"它的 {entry.Events} 个事件之一", $"one of its {entry.Events} events");
            return Broken(entry.Seq, entry.Events == 1 ? entry.FirstEventId : null,
                Text.Say($"审计条目 {entry.Seq} 的事件与其 root 不再相符：events 表中{where}被改过（叶子字段之一：id、metric、occurredOn、quantity、orgUnit、campaign、dimensions、externalId、note、source、recordedAt 或 supersedes）。",
                    $"The events of audit entry {entry.Seq} no longer hash to its root: {where} was changed in the events table "
                    + "(a field of its leaf: id, metric, occurredOn, quantity, orgUnit, campaign, dimensions, externalId, note, source, recordedAt or supersedes)."));
        }
        if (changedChunk is not null)
            return Broken(entry.Seq, null,
                Text.Say($"审计条目 {entry.Seq} 存储的分块哈希（audit_chunks）与其事件不符，尽管其 root 相符：其事件的证明将无法通过。",
                    $"The stored chunk hashes of audit entry {entry.Seq} (audit_chunks) differ from its events, though its root holds: proofs of its events would fail."));
        return null;
    }

    /// <summary>The first chunk whose stored hash (or first event) differs from the rows; null when all agree.</summary>
    private static int? FirstChangedChunk(Run run, List<(string FirstEventId, long Chunk, byte[] Hash)> stored)
    {
        var computed = run.Tree.ChunkHashes;
        var expected = computed.Count < 2 ? 0 : computed.Count;
        for (var i = 0; i < Math.Min(stored.Count, expected); i++)
        {
            if (stored[i].Chunk != i || stored[i].FirstEventId != run.ChunkFirstIds[i] || !stored[i].Hash.AsSpan().SequenceEqual(computed[i]))
                return i;
        }
        return stored.Count == expected ? null : Math.Min(stored.Count, expected);
    }

    private async Task<List<(string FirstEventId, long Chunk, byte[] Hash)>> StoredChunksAsync(long seq, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = snapshot;
        command.CommandText = "SELECT first_event_id, chunk, hash FROM audit_chunks WHERE seq = @seq ORDER BY first_event_id";
        command.Bind("@seq", seq);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var chunks = new List<(string, long, byte[])>();
        while (await reader.ReadAsync(ct))
            chunks.Add((reader.GetString(0), reader.GetInt64(1), (byte[])reader.GetValue(2)));
        return chunks;
    }

    private async Task<EntryRecord?> PeekAsync(CancellationToken ct)
    {
        if (_next is not null || _exhausted)
            return _next;
        if (!await entries.ReadAsync(ct))
        {
            _exhausted = true;
            return null;
        }
        _next = Parse(entries.GetInt64(0), entries.GetString(1));
        return _next;
    }

    private static EntryRecord Parse(long seq, string data)
    {
        try
        {
            using var document = JsonDocument.Parse(data);
            var root = document.RootElement;
            return new EntryRecord(seq, root.GetProperty("events").GetInt64(), root.GetProperty("firstEventId").GetString(),
                root.GetProperty("lastEventId").GetString(), root.GetProperty("root").GetString());
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return new EntryRecord(seq, 0, null, null, null);
        }
    }

    private VerifyOutcome Broken(long? seq, string? eventId, string reason) =>
        VerifyOutcome.Broken(chainEntries, seq, reason, eventId: eventId);

    private static string Gone(EntryRecord next) => Text.Say(
        $"审计条目 {next.Seq} 记录了 {next.Events} 个事件（{next.FirstEventId} 至 {next.LastEventId}）：它们已全部从 events 表中消失。",
        $"Audit entry {next.Seq} records {next.Events} event(s) ({next.FirstEventId} to {next.LastEventId}); all of them are gone from the events table.");
}
