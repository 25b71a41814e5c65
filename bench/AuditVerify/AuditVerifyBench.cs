using System.Diagnostics;
using System.Globalization;
using Tally.Api;
using Tally.Api.Features.Audit;
using Tally.Api.Ledger;

namespace Tally.Bench;

/// <summary>
/// How long GET /audit/verify takes over a ledger of N events (default 1,000,000): fills a fresh database through
/// LedgerWriter (each event with its audit entry and rollups, as the API records them), then times verification.
/// Run: dotnet run -c Release --project bench/AuditVerify -- [events]
/// </summary>
public static class AuditVerifyBench
{
    public static async Task Main(string[] args)
    {
        var events = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        var folder = Path.Combine(Path.GetTempPath(), "tally-bench", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Bench" });
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["ConnectionStrings:Tally"] = $"Data Source={Path.Combine(folder, "tally.db")}",
                ["Tally:BootstrapAdminKey"] = "tly_bench-admin-key-0123456789abcdefghijklmnopqrstuv",
                ["Logging:LogLevel:Default"] = "Warning",
            });
            builder.WebHost.UseUrls("http://127.0.0.1:5381");
            builder.Services.AddTally(builder.Configuration);
            await using var app = builder.Build();
            app.UseTally();
            await app.StartAsync();

            var writer = app.Services.GetRequiredService<LedgerWriter>();
            var fill = Stopwatch.StartNew();
            const int PerCommand = 10_000;
            for (var done = 0; done < events; done += PerCommand)
                await writer.SubmitAsync(new FillCommand(Math.Min(PerCommand, events - done), done), CancellationToken.None);
            fill.Stop();
            Console.WriteLine($"filled {events:N0} events in {fill.Elapsed.TotalSeconds:F1} s ({events / fill.Elapsed.TotalSeconds:N0}/s); "
                + $"database {new FileInfo(Path.Combine(folder, "tally.db")).Length / 1048576.0 + WalSize(folder):F0} MiB");

            var verification = app.Services.GetRequiredService<AuditVerification>();
            for (var run = 1; run <= 3; run++)
            {
                var allocated = GC.GetTotalAllocatedBytes(precise: true);
                var timer = Stopwatch.StartNew();
                var outcome = await verification.RunAsync(null, CancellationToken.None);
                timer.Stop();
                Console.WriteLine($"verify #{run}: valid={outcome.Valid} entries={outcome.Entries:N0} in {timer.Elapsed.TotalSeconds:F2} s "
                    + $"({outcome.Entries / timer.Elapsed.TotalSeconds:N0} entries/s), allocated {(GC.GetTotalAllocatedBytes(true) - allocated) / 1048576.0:N0} MiB, "
                    + $"peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:N0} MiB");
            }
            await app.StopAsync();
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private static double WalSize(string folder)
    {
        var wal = new FileInfo(Path.Combine(folder, "tally.db-wal"));
        return wal.Exists ? wal.Length / 1048576.0 : 0;
    }

    /// <summary>Records events the way POST /events does, many per command to fill quickly.</summary>
    private sealed class FillCommand(int count, int offset) : LedgerCommand<int>
    {
        private static readonly string[] Metrics = ["notices.issued", "websites.deregistered", "accounts.interviewed", "reports.tianjin"];

        public override int Weight => count;

        protected override int Run(LedgerContext context)
        {
            var recorder = new Recorder(Actor.System, "bench");
            for (var i = 0; i < count; i++)
            {
                var n = offset + i;
                var input = new NewEvent(Metrics[n % Metrics.Length], new DateOnly(2024, 1, 1).AddDays(n % 366), 1 + (n % 97),
                    n % 3 == 0 ? "tianjin" : "hedong", null, new SortedDictionary<string, string>(StringComparer.Ordinal), null,
                    n % 5 == 0 ? "河东区网络举报受理" : null);
                EventLedger.Record(context, input, recorder);
            }
            return count;
        }
    }
}
