using Dapper;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Reports;

/// <summary>
/// After start, counts the whole tree's report for the latest year with events and the year before (what the dashboard
/// opens on), so the first visitor does not wait for a whole year of events to be read. Runs in the background: the
/// service answers meanwhile, and a report asked for meanwhile waits for the count already under way.
/// </summary>
public sealed class ReportWarmup(Database database, CountedEvents counter, LedgerWriter writer, TimeProvider clock,
    IHostApplicationLifetime lifetime, ILogger<ReportWarmup> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            using (var startedOrStopping = CancellationTokenSource.CreateLinkedTokenSource(lifetime.ApplicationStarted, stoppingToken))
                await Task.Delay(Timeout.Infinite, startedOrStopping.Token).ContinueWith(_ => { }, TaskScheduler.Default);
            stoppingToken.ThrowIfCancellationRequested();
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            await using var connection = await database.OpenAsync(stoppingToken);
            var latestMonth = await connection.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT max(month) FROM monthly_unit_rollups", cancellationToken: stoppingToken));
            if (latestMonth is null)
                return;
            var latest = int.Parse(latestMonth[..4], System.Globalization.CultureInfo.InvariantCulture);
            foreach (var year in new[] { latest, latest - 1 })
            {
                var asOf = clock.GetUtcNow();
                await writer.SettleAsync(asOf, stoppingToken);
                await counter.CountAsync(year, null, asOf, stoppingToken);
            }
            logger.LogInformation("Reports of {Latest} and {Previous} counted in {Elapsed} ms", latest, latest - 1,
                (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (StorageErrors.IsStoreError(ex) || ex is InvalidOperationException)
        {
            // Only a head start: the first report asked for counts for itself.
            logger.LogWarning(ex, "Reports could not be counted ahead at start");
        }
    }
}
