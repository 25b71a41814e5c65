using Dapper;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Security;

/// <summary>Writes keys' last-use times every few seconds through LedgerWriter, off the request path.</summary>
public sealed class KeyUsageFlusher(KeyStore keys, LedgerWriter writer, ILogger<KeyUsageFlusher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5));
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            var used = keys.DrainUnflushed();
            if (used.Count == 0)
                continue;
            try
            {
                await writer.SubmitAsync(new TouchKeysCommand(used), stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Could not record API key use; will retry");
                foreach (var (keyId, at) in used)
                    keys.Touch(keyId, at);
            }
        }
    }

    private sealed class TouchKeysCommand(IReadOnlyList<(string KeyId, DateTimeOffset At)> used) : LedgerCommand<int>
    {
        // Bookkeeping, not a change of the ledger: no audit entry.
        protected override int Run(LedgerContext context) => context.Connection.Execute(
            "UPDATE api_keys SET last_used_at = @At WHERE id = @KeyId",
            used.Select(u => new { u.KeyId, u.At }), context.Transaction);
    }
}
