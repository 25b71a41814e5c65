using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Npgsql;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Admin;

/// <summary>
/// The README's PostgreSQL backup and restore ("Past one machine"), done as an operator would with PostgreSQL's own
/// tools: <c>pg_dump --format=custom</c> of the live database while Tally runs, <c>pg_restore</c> into a new database,
/// Tally started on it. The restored service verifies with the same audit head, serves the same events and totals, and
/// knows the same keys. PostgreSQL only (SQLite's backup is RestoreTests).
/// </summary>
public sealed class PostgresRestoreTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static object Event(string unit, int quantity, string? externalId = null) => new
    {
        metric = "leads.handled", occurredOn = "2024-08-08", quantity, orgUnit = unit, externalId,
        dimensions = new { kind = "fraud" },
    };

    /// <summary>PostgreSQL's client programs: TALLY_PG_BIN (.ci/postgres sets it), else the newest Debian installed.</summary>
    private static string Tool(string name)
    {
        var folders = new[] { Environment.GetEnvironmentVariable("TALLY_PG_BIN") }
            .Concat(Directory.Exists("/usr/lib/postgresql")
                ? Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => d, StringComparer.Ordinal).Select(d => Path.Combine(d, "bin"))
                : []);
        return folders.Where(f => !string.IsNullOrEmpty(f)).Select(f => Path.Combine(f!, name)).FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException($"{name} is not installed (apt-get install postgresql-client).");
    }

    /// <summary>libpq's form of an Npgsql connection string, for the client programs.</summary>
    private static string Conninfo(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        return $"host={b.Host} port={b.Port} user={b.Username} password={b.Password} dbname={b.Database}";
    }

    private static async Task RunAsync(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(Tool(tool)) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);
        Assert.True(process.ExitCode == 0, $"{tool} exited {process.ExitCode}: {await stdout}{await stderr}");
    }

    private static (long Sum, long Count) Totals(string connectionString, string unit)
    {
        using var db = TestStore.Open(connectionString);
        var events = db.QueryFirst<(long, long)>(
            "SELECT coalesce(sum(quantity), 0)::bigint, count(*) FROM events WHERE org_unit = @unit AND voided_at IS NULL", new { unit });
        var rollups = db.QueryFirst<(long, long)>(
            "SELECT coalesce(sum(value), 0)::bigint, coalesce(sum(events), 0)::bigint FROM daily_rollups WHERE org_unit = @unit", new { unit });
        Assert.Equal(events, rollups);
        return events;
    }

    [Fact]
    public async Task A_pg_dump_restored_into_a_new_database_verifies_and_serves_the_same_events_totals_and_keys()
    {
        if (!TestStore.OnPostgres)
            Assert.Skip("PostgreSQL only: pg_dump and pg_restore (SQLite's backup is RestoreTests)");
        var folder = Path.Combine(Path.GetTempPath(), "tally-tests", "pg-restore-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var dump = Path.Combine(folder, "tally.dump");
        await using var original = await TallyApp.StartAsync(new Dictionary<string, string?>());
        var restoredDatabase = new NpgsqlConnectionStringBuilder(original.ConnectionString)
        {
            Database = "tally_r_" + Guid.NewGuid().ToString("N"),
        }.ConnectionString;
        try
        {
            using var admin = original.Admin();
            var unit = await original.OrgUnitAsync();
            var writerKey = await original.KeyAsync(["events:write", "events:read"]);
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/events", Event(unit, 5, "r-1"), Ct)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync("/api/v1/events/batch",
                new { events = Enumerable.Range(1, 30).Select(i => Event(unit, i)).ToArray() }, Ct)).StatusCode);
            var voided = await (await admin.PostAsJsonAsync("/api/v1/events", Event(unit, 1000), Ct)).ReadJsonAsync();
            Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync($"/api/v1/events/{voided["id"]}/void", new { reason = "typo" }, Ct)).StatusCode);

            // The backup, while the service runs: one consistent snapshot of the database.
            await RunAsync("pg_dump", "--format=custom", "--file", dump, "--dbname", Conninfo(original.ConnectionString));
            var originalEvents = await admin.GetJsonAsync($"/api/v1/events?orgUnit={unit}&status=all&limit=1000");
            var originalVerify = await admin.GetJsonAsync("/api/v1/audit/verify");
            var originalTotals = Totals(original.ConnectionString, unit);

            // The restore: a new, empty database, the dump into it, Tally on it.
            await RunAsync("createdb", "--maintenance-db", Conninfo(original.ConnectionString),
                new NpgsqlConnectionStringBuilder(restoredDatabase).Database!);
            await RunAsync("pg_restore", "--no-owner", "--exit-on-error", "--dbname", Conninfo(restoredDatabase), dump);
            await using var restored = await TallyApp.StartAsync(new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = restoredDatabase });
            using var restoredAdmin = restored.Admin();

            var verify = await restoredAdmin.GetJsonAsync("/api/v1/audit/verify");
            Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());
            Assert.Equal(originalVerify["head"]!.GetValue<string>(), verify["head"]!.GetValue<string>());
            Assert.Equal(originalVerify["entries"]!.GetValue<long>(), verify["entries"]!.GetValue<long>());
            var events = await restoredAdmin.GetJsonAsync($"/api/v1/events?orgUnit={unit}&status=all&limit=1000");
            Assert.Equal(originalEvents.ToJsonString(), events.ToJsonString());
            Assert.Equal(32, events["items"]!.AsArray().Count);
            Assert.Equal(originalTotals, Totals(restoredDatabase, unit));
            Assert.Equal((5L + 465, 31L), Totals(restoredDatabase, unit));
            var totals = await restoredAdmin.GetJsonAsync($"/api/v1/totals?year=2024&orgUnit={unit}&metric=leads.handled");
            Assert.Equal(470, totals["rows"]![0]!["value"]!.GetValue<long>());

            // Keys made before the backup still work; a retry of an event in the dump finds it, a new one is stored.
            using var writer = restored.Client(writerKey);
            var retry = await restoredAdmin.PostAsJsonAsync("/api/v1/events", Event(unit, 5, "r-1"), Ct);
            Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await writer.PostAsJsonAsync("/api/v1/events", Event(unit, 7, "r-2"), Ct)).StatusCode);
            Assert.Equal((5L + 465 + 7, 32L), Totals(restoredDatabase, unit));
        }
        finally
        {
            TestStore.DropPostgresDatabase(restoredDatabase);
            Directory.Delete(folder, recursive: true);
        }
    }
}
