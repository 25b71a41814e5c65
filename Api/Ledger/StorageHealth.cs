namespace Tally.Api.Ledger;

/// <summary>
/// Whether the writer's storage takes writes: failed from a group whose storage failed until the next commit succeeds,
/// and whether the writer must reopen its connection before the next group. Written on the writer's thread only.
/// </summary>
public sealed class StorageHealth(LedgerMetrics metrics, ILogger logger)
{
    private volatile Exception? _fault;

    public bool Failed => _fault is not null;

    /// <summary>
    /// After a storage failure SQLite may have rolled the transaction back by itself (SQLITE_FULL, IOERR) and the
    /// connection's prepared statements and transaction object may disagree with it: the next group starts on a fresh one.
    /// </summary>
    public bool NeedsReopen { get; private set; }

    public void StorageFailed(Exception error)
    {
        metrics.StorageFailed();
        _fault = error;
        NeedsReopen = true;
    }

    /// <summary>The connection could not be reopened: still failed, and reopening is tried again with the next group.</summary>
    public void ReopenFailed(Exception error) => _fault = error;

    public void Reopened() => NeedsReopen = false;

    public void Committed()
    {
        if (_fault is null)
            return;
        _fault = null;
        logger.LogInformation("Ledger writer committed again; storage has recovered");
    }
}
