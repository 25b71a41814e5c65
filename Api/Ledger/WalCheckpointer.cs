using Microsoft.Data.Sqlite;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// Copies committed WAL frames into the database file on its own connection, beside the writer: the writer's COMMIT
/// then only appends to the WAL (and fsyncs it), instead of stopping every few thousand pages to checkpoint itself.
/// The writer keeps a far higher auto-checkpoint of its own as a backstop (<see cref="LedgerWriter.BackstopCheckpointPages"/>).
/// </summary>
public sealed class WalCheckpointer(Database database, ILogger<WalCheckpointer> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

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
                await using var checkpoint = connection.CreateCommand();
                // PASSIVE never blocks the writer or readers: it copies what no reader still needs and returns.
                checkpoint.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
                await checkpoint.ExecuteNonQueryAsync(stoppingToken);
            }
            catch (SqliteException ex)
            {
                logger.LogWarning(ex, "WAL checkpoint failed; the writer's own checkpoint remains the backstop");
            }
        }
    }
}
