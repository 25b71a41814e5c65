using System.Buffers;
using System.Text.Json.Nodes;

namespace Tally.Api.Ledger;

/// <summary>
/// The events one write command creates, on their way into its one audit entry (CONTRACT.md, Audit): each event's leaf
/// hash goes into a <see cref="MerkleAccumulator"/> as it is inserted, and when the command ends the entry
/// <c>events.created</c> is appended with <c>{ events, firstEventId, lastEventId, root }</c> (and, past one chunk, the
/// chunk hashes proofs use). Memory: O(log n) for the root, one hash and one id per 1024 events for the chunks.
/// </summary>
internal sealed class CreatedEvents(long seq, Actor actor)
{
    public const string Action = "events.created";

    /// <summary>The entity of an events.created entry: its first event.</summary>
    public const string EntityPrefix = "events:";

    private readonly MerkleAccumulator _tree = new();
    private readonly List<string> _chunkFirstIds = [];
    private readonly ArrayBufferWriter<byte> _leaf = new(512);
    private string? _first;
    private string? _last;

    /// <summary>The seq the entry will have: every event added names it as its auditSeq.</summary>
    public long Seq { get; } = seq;

    public Actor Actor { get; } = actor;

    public long Count => _tree.Count;

    public void Add(EventRow row)
    {
        if (row.AuditSeq != Seq)
            throw new InvalidOperationException($"Event {row.Id} names audit entry {row.AuditSeq}, not {Seq}, which records it.");
        if (_last is not null && string.CompareOrdinal(row.Id, _last) <= 0)
            throw new InvalidOperationException("A command's events are added in id order.");
        if (_tree.Count % MerkleAccumulator.ChunkLeaves == 0)
            _chunkFirstIds.Add(row.Id);
        _tree.AddLeaf(EventLeafJson.LeafHash(row, _leaf));
        _first ??= row.Id;
        _last = row.Id;
    }

    /// <summary>Appends the entry (and its chunks when there is more than one) at <see cref="Seq"/>.</summary>
    public void Seal(LedgerContext context, AuditChain chain)
    {
        if (chain.HeadSeq + 1 != Seq)
            throw new InvalidOperationException($"The chain moved past {Seq - 1} while events waited for entry {Seq}.");
        var root = _tree.Root()!;
        var data = new JsonObject
        {
            ["events"] = Count, ["firstEventId"] = _first, ["lastEventId"] = _last, ["root"] = Convert.ToHexStringLower(root),
        };
        context.AuditCanonical(Actor, Action, EntityPrefix + _first, AuditChain.Canonical(data));
        if (_tree.ChunkHashes.Count < 2)
            return;
        for (var i = 0; i < _tree.ChunkHashes.Count; i++)
            context.Write("INSERT INTO audit_chunks (seq, first_event_id, chunk, hash) VALUES (@seq, @first, @chunk, @hash)")
                .Bind("@seq", Seq).Bind("@first", _chunkFirstIds[i]).Bind("@chunk", i).Bind("@hash", _tree.ChunkHashes[i])
                .Send();
    }
}
