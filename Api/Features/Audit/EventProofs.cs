using System.Buffers;
using System.Text.Json;
using Dapper;
using System.Data.Common;
using Tally.Api.Ledger;
using Tally.Api.Problems;

namespace Tally.Api.Features.Audit;

/// <summary>
/// Builds an event's inclusion proof from the rows: its leaf, the audit path PATH(m, D[n]) of RFC 6962 up to its entry's
/// root, and the entry. An entry of at most 1024 events is rehashed whole; a larger one has its chunk hashes stored
/// (<c>audit_chunks</c>), so the proof rehashes only the event's own chunk and takes the chunk level from there
/// (at most 1024 leaves and ~n/1024 stored hashes, whatever the size of the command). An event of the earlier form
/// (its own event.created entry, whose data is the event) is a tree of one: index 0, size 1, an empty path.
/// </summary>
public static class EventProofs
{
    public static async Task<EventProofResponse> BuildAsync(DbConnection connection, DbTransaction snapshot, EventRow row,
        CancellationToken ct)
    {
        var entry = await connection.QuerySingleOrDefaultAsync<AuditRow>(new CommandDefinition(
            $"SELECT {AuditRow.Columns} FROM audit_log WHERE seq = @seq", new { seq = row.AuditSeq }, snapshot, cancellationToken: ct))
            ?? throw Missing(row, Text.Say("它所指的审计条目不存在", "the audit entry it names does not exist"));
        var buffer = new ArrayBufferWriter<byte>(1024);
        var leafHash = EventLeafJson.LeafHash(row, buffer);
        long index = 0, size = 1;
        var path = new List<byte[]>();
        if (entry.Action == CreatedEvents.Action)
        {
            var (events, first) = ParseEntry(row, entry.Data);
            size = events;
            var chunk = size <= MerkleAccumulator.ChunkLeaves ? null : await ChunkOfAsync(connection, snapshot, row, ct);
            var chunkFirst = chunk?.FirstEventId ?? first;
            var chunkIndex = chunk?.Chunk ?? 0;
            var chunkSize = (int)Math.Min(MerkleAccumulator.ChunkLeaves, size - chunkIndex * MerkleAccumulator.ChunkLeaves);
            var leaves = new List<byte[]>(chunkSize);
            var position = -1;
            await using (var reader = await connection.ExecuteReaderAsync(new CommandDefinition(
                             $"SELECT {EventRow.Columns} FROM events WHERE seq >= (SELECT seq FROM events WHERE id = @chunkFirst) AND audit_seq = @seq ORDER BY seq LIMIT @chunkSize",
                             new { chunkFirst, seq = row.AuditSeq, chunkSize }, snapshot, cancellationToken: ct)))
            {
                while (await reader.ReadAsync(ct))
                {
                    var other = EventRow.Read(reader);
                    if (other.Id == row.Id)
                        position = leaves.Count;
                    leaves.Add(EventLeafJson.LeafHash(other, buffer));
                }
            }
            if (position < 0)
                throw Missing(row, Text.Say("它不在该条目记录的事件之中", "it is not among the events that entry records"));
            path.AddRange(MerkleTree.Path(position, leaves));
            index = chunkIndex * (long)MerkleAccumulator.ChunkLeaves + position;
            if (chunk is not null)
            {
                var chunkHashes = (await connection.QueryAsync<byte[]>(new CommandDefinition(
                    "SELECT hash FROM audit_chunks WHERE seq = @seq ORDER BY first_event_id", new { seq = row.AuditSeq }, snapshot,
                    cancellationToken: ct))).ToList();
                if (chunkIndex >= chunkHashes.Count)
                    throw Missing(row, Text.Say("该条目的分块哈希不完整", "the entry's chunk hashes are incomplete"));
                path.AddRange(MerkleTree.Path((int)chunkIndex, chunkHashes));
            }
        }
        return new EventProofResponse
        {
            Event = JsonDocument.Parse(EventLeafJson.Bytes(row)).RootElement.Clone(),
            LeafHash = Convert.ToHexStringLower(leafHash), AuditSeq = row.AuditSeq, Index = index, Size = size,
            Path = path.Select(Convert.ToHexStringLower).ToList(), Entry = entry.ToResponse(),
        };
    }

    private sealed record ChunkRow(string FirstEventId, long Chunk);

    private static async Task<ChunkRow> ChunkOfAsync(DbConnection connection, DbTransaction snapshot, EventRow row,
        CancellationToken ct) =>
        await connection.QuerySingleOrDefaultAsync<ChunkRow>(new CommandDefinition(
            """
            SELECT first_event_id AS FirstEventId, chunk FROM audit_chunks
            WHERE seq = @seq AND first_event_id <= @id ORDER BY first_event_id DESC LIMIT 1
            """, new { seq = row.AuditSeq, id = row.Id }, snapshot, cancellationToken: ct))
        ?? throw Missing(row, Text.Say("该条目的分块哈希不存在", "the entry's chunk hashes are missing"));

    private static (long Events, string First) ParseEntry(EventRow row, string data)
    {
        try
        {
            using var document = JsonDocument.Parse(data);
            var events = document.RootElement.GetProperty("events").GetInt64();
            var first = document.RootElement.GetProperty("firstEventId").GetString();
            if (events > 0 && first is not null)
                return (events, first);
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
        }
        throw Missing(row, Text.Say("该条目的数据不是事件记录", "the entry's data does not record events"));
    }

    /// <summary>The rows no longer give a proof: the ledger was changed behind the server (verification names where).</summary>
    private static ProblemException Missing(EventRow row, string why) => ProblemException.Conflict(Text.Say(
        $"无法为事件 {row.Id} 生成证明：{why}。请运行 GET /audit/verify 检查审计链。",
        $"No proof can be built for event {row.Id}: {why}. Run GET /audit/verify to check the audit chain."));
}
