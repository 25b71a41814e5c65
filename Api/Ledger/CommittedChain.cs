using System.Data.Common;

namespace Tally.Api.Ledger;

/// <summary>
/// The writer's audit chain and what it has published of it: the head it last committed (the anchor verification
/// compares with) and the ceiling no entry it wrote lies above. The chain itself is touched on the writer's thread
/// only; <see cref="Head"/> and <see cref="Ceiling"/> are read from any.
/// </summary>
public sealed class CommittedChain
{
    private volatile ChainHead _head = new(0, AuditChain.Genesis);
    private long _ceiling;

    public AuditChain Chain { get; } = new();

    /// <summary>The last audit entry this process committed (or found at start).</summary>
    public ChainHead Head => _head;

    /// <summary>The highest seq this process has committed or is committing.</summary>
    public long Ceiling => Volatile.Read(ref _ceiling);

    public void Load(DbConnection connection, DbTransaction? transaction = null)
    {
        Chain.Load(connection, transaction);
        Committed();
    }

    /// <summary>Before a commit: the entries of the group now being committed are under the ceiling.</summary>
    public void Committing() => Volatile.Write(ref _ceiling, Chain.HeadSeq);

    /// <summary>After a commit: the group's last entry is the committed head.</summary>
    public void Committed()
    {
        _head = new ChainHead(Chain.HeadSeq, Chain.HeadHash);
        Volatile.Write(ref _ceiling, Chain.HeadSeq);
    }

    /// <summary>
    /// After a rolled-back group: back to the last committed head this process knows, never to whatever the file now
    /// ends with, so a row slipped into the file behind the writer's back never becomes part of the chain.
    /// </summary>
    public void RolledBack()
    {
        var committed = _head;
        Chain.Reset((committed.Seq, committed.Hash));
        Volatile.Write(ref _ceiling, committed.Seq);
    }
}
