namespace Tally.Api.Ledger;

public sealed class LedgerOptions
{
    /// <summary>Commands waiting for the writer before new requests are told to retry (503).</summary>
    public int QueueCapacity { get; set; } = 4096;

    /// <summary>How long a request waits for room in a full queue before it gets 503.</summary>
    public TimeSpan QueueWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The most weight (events) one group commit takes.</summary>
    public int MaxGroupWeight { get; set; } = 20_000;

    /// <summary>
    /// WAL pages after which the checkpointer waits briefly for readers of older snapshots so that the WAL starts over
    /// (see <see cref="WalCheckpointer"/>); 8192 pages of 4 KiB are 32 MiB.
    /// </summary>
    public int WalRestartPages { get; set; } = 8192;
}
