namespace Tally.Api.Ledger;

/// <summary>
/// Points in LedgerWriter's loop where tests hold the writer or break a commit, to prove what callers are told when
/// the queue fills or storage fails. The service registers <see cref="NoLedgerFaults"/>.
/// </summary>
public interface ILedgerFaults
{
    /// <summary>On the writer's thread, with a group just taken from the queue and before its transaction begins.</summary>
    void BeforeGroup(IReadOnlyList<LedgerCommand> group);

    /// <summary>After every command of the group ran, just before COMMIT; an exception here is a failed commit.</summary>
    void BeforeCommit(IReadOnlyList<LedgerCommand> group);

    /// <summary>Each time the writer opens its connection (at start and after a storage failure).</summary>
    void ConnectionOpened(System.Data.Common.DbConnection connection)
    {
    }
}

public sealed class NoLedgerFaults : ILedgerFaults
{
    public void BeforeGroup(IReadOnlyList<LedgerCommand> group)
    {
    }

    public void BeforeCommit(IReadOnlyList<LedgerCommand> group)
    {
    }
}
