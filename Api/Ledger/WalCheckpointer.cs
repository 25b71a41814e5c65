using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// Copies committed WAL frames into the database file on its own connection, beside the writer: the writer's COMMIT
/// then only appends to the WAL (and fsyncs it), instead of stopping every few thousand pages to checkpoint itself.
/// The writer keeps a far higher auto-checkpoint of its own as a backstop (<see cref="LedgerWriter.BackstopCheckpointPages"/>).
/// <para>
/// The WAL only starts over when no reader still reads an older snapshot from it. Under a steady read load (dashboards,
/// listings, exports) some reader always does, and a WAL left alone grows without end: a soak grew it to 400 MB in ten
/// minutes, and every read and write slowed as it grew. Past <see cref="LedgerOptions.WalRestartPages"/> a RESTART
/// checkpoint therefore waits (at most <see cref="RestartWait"/>, holding new writes meanwhile) for those readers to
/// finish; readers that start meanwhile read the database file and do not hold it up.
/// </para>
/// </summary>
public sealed class WalCheckpointer(Database database, IOptions<LedgerOptions> options, ILogger<WalCheckpointer> logger)
    : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    /// <summary>How long a RESTART checkpoint may hold writers back waiting for old readers before it tries again later.</summary>
    public static readonly TimeSpan RestartWait = TimeSpan.FromMilliseconds(100);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (database.FilePath is null)
            return;
        using var timer = new PeriodicTimer(Interval);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await using var connection = await database.OpenAsync(stoppingToken);
                // PASSIVE never blocks the writer or readers: it copies what no reader still needs and returns.
                var walPages = await CheckpointAsync(connection, "PASSIVE", stoppingToken);
                if (walPages >= options.Value.WalRestartPages)
                {
                    await using (var wait = connection.CreateCommand())
                    {
                        wait.CommandText = $"PRAGMA busy_timeout = {(int)RestartWait.TotalMilliseconds}";
                        await wait.ExecuteNonQueryAsync(stoppingToken);
                    }
                    await CheckpointAsync(connection, "RESTART", stoppingToken);
                }
            }
            catch (SqliteException ex)
            {
                logger.LogWarning(ex, "WAL checkpoint failed; the writer's own checkpoint remains the backstop");
            }
        }
    }

    /// <summary>Runs one checkpoint and returns the WAL's size in pages (SQLite answers busy, log pages, checkpointed pages).</summary>
    private static async Task<long> CheckpointAsync(System.Data.Common.DbConnection connection, string mode, CancellationToken ct)
    {
        await using var checkpoint = connection.CreateCommand();
        checkpoint.CommandText = $"PRAGMA wal_checkpoint({mode})";
        await using var reader = await checkpoint.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) && !reader.IsDBNull(1) ? reader.GetInt64(1) : 0;
    }
}
