using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Data.Sqlite;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Admin;

/// <summary>
/// The README's restore, done as an operator would: stop, put the backup in place of the database (no stale -wal/-shm),
/// start. The restored service verifies, serves the same events and totals, and knows the same keys.
/// </summary>
public sealed class RestoreTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static object Event(string unit, int quantity, string? externalId = null) => new
    {
        metric = "leads.handled", occurredOn = "2024-08-08", quantity, orgUnit = unit, externalId,
        dimensions = new { kind = "fraud" },
    };

    [Fact]
    public async Task A_backup_restored_into_a_fresh_service_verifies_and_serves_the_same_events_totals_and_keys()
    {
        TestStore.SkipUnlessSqlite("SQLite's online backup (PostgreSQL is backed up with its own tools, README)");
        var restoreFolder = Path.Combine(Path.GetTempPath(), "tally-tests", "restore-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(restoreFolder);
        var restored = Path.Combine(restoreFolder, "tally.db");
        try
        {
            string unit, writerKey;
            JsonNode originalEvents, originalVerify;
            (long Sum, long Count) originalTotals;
            await using (var original = await TallyApp.StartAsync(new Dictionary<string, string?>()))
            {
                using var admin = original.Admin();
                unit = await original.OrgUnitAsync();
                writerKey = await original.KeyAsync(["events:write", "events:read"]);
                Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/events", Event(unit, 5, "r-1"), Ct)).StatusCode);
                Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync("/api/v1/events/batch",
                    new { events = Enumerable.Range(1, 30).Select(i => Event(unit, i)).ToArray() }, Ct)).StatusCode);
                var voided = await (await admin.PostAsJsonAsync("/api/v1/events", Event(unit, 1000), Ct)).ReadJsonAsync();
                Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync($"/api/v1/events/{voided["id"]}/void", new { reason = "typo" }, Ct)).StatusCode);

                var backup = await admin.PostAsync("/api/v1/admin/backup", null, Ct);
                Assert.Equal(HttpStatusCode.OK, backup.StatusCode);
                await File.WriteAllBytesAsync(restored, await backup.Content.ReadAsByteArrayAsync(Ct), Ct);

                originalEvents = await (await admin.GetAsync($"/api/v1/events?orgUnit={unit}&status=all&limit=1000", Ct)).ReadJsonAsync();
                originalVerify = await (await admin.GetAsync("/api/v1/audit/verify", Ct)).ReadJsonAsync();
                originalTotals = Totals(original.DatabasePath, unit);
            }
            // Stale WAL and shared-memory files of an earlier database must not be replayed over the restored one.
            File.Delete(restored + "-wal");
            File.Delete(restored + "-shm");

            await using var fresh = await TallyApp.StartAsync(new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = $"Data Source={restored}" });
            using var restoredAdmin = fresh.Admin();
            using (var db = fresh.OpenDatabase())
                Assert.Equal("ok", db.ExecuteScalar<string>("PRAGMA integrity_check"));
            var verify = await (await restoredAdmin.GetAsync("/api/v1/audit/verify", Ct)).ReadJsonAsync();
            Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());
            Assert.Equal(originalVerify["head"]!.GetValue<string>(), verify["head"]!.GetValue<string>());
            Assert.Equal(originalVerify["entries"]!.GetValue<long>(), verify["entries"]!.GetValue<long>());
            var events = await (await restoredAdmin.GetAsync($"/api/v1/events?orgUnit={unit}&status=all&limit=1000", Ct)).ReadJsonAsync();
            Assert.Equal(originalEvents.ToJsonString(), events.ToJsonString());
            Assert.Equal(32, events["items"]!.AsArray().Count);
            Assert.Equal(originalTotals, Totals(restored, unit));
            Assert.Equal((5L + 465, 31L), Totals(restored, unit));

            // Keys made before the backup still work after the restore; the idempotent retry finds the original.
            using var writer = fresh.Client(writerKey);
            var retry = await writer.PostAsJsonAsync("/api/v1/events", Event(unit, 7, "r-2"), Ct);
            Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(restoreFolder, recursive: true);
        }
    }

    [Fact]
    public async Task The_backup_command_snapshots_the_configured_database_into_a_file_that_opens_and_verifies()
    {
        TestStore.SkipUnlessSqlite("SQLite's online backup (PostgreSQL is backed up with its own tools, README)");
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using var admin = app.Admin();
        var unit = await app.OrgUnitAsync();
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/events", Event(unit, 9), Ct)).StatusCode);
        var output = Path.Combine(app.Folder, "cli", "snapshot.db");

        // The real program, as an operator runs it (dotnet Tally.Api.dll backup OUT), beside the running service.
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tally.Api.dll"));
        start.ArgumentList.Add("backup");
        start.ArgumentList.Add(output);
        start.Environment["ConnectionStrings__Tally"] = $"Data Source={app.DatabasePath}";
        using var process = Process.Start(start)!;
        var stdout = await process.StandardOutput.ReadToEndAsync(Ct);
        var stderr = await process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);

        Assert.True(process.ExitCode == 0, stdout + stderr);
        Assert.Contains("Backed up", stdout, StringComparison.Ordinal);
        Assert.False(File.Exists(output + ".partial"));
        Assert.False(File.Exists(output + "-wal"));
        using var copy = new SqliteConnection($"Data Source={output};Mode=ReadOnly;Pooling=false");
        copy.Open();
        Assert.Equal("ok", copy.ExecuteScalar<string>("PRAGMA integrity_check"));
        Assert.Equal("delete", copy.ExecuteScalar<string>("PRAGMA journal_mode"));
        Assert.Equal(9, copy.ExecuteScalar<long>("SELECT sum(quantity) FROM events WHERE org_unit = @unit", new { unit }));
        Assert.Equal(9, copy.ExecuteScalar<long>("SELECT sum(value) FROM daily_rollups WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task The_backup_command_without_a_database_fails_with_a_message_and_no_file()
    {
        TestStore.SkipUnlessSqlite("SQLite's online backup (PostgreSQL is backed up with its own tools, README)");
        var folder = Path.Combine(Path.GetTempPath(), "tally-tests", "cli-" + Guid.NewGuid().ToString("N"));
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tally.Api.dll"));
        start.ArgumentList.Add("backup");
        start.ArgumentList.Add(Path.Combine(folder, "out.db"));
        start.Environment["ConnectionStrings__Tally"] = $"Data Source={Path.Combine(folder, "missing.db")}";
        using var process = Process.Start(start)!;
        var stderr = await process.StandardError.ReadToEndAsync(Ct);
        await process.WaitForExitAsync(Ct);

        Assert.Equal(1, process.ExitCode);
        Assert.Contains("No database", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(folder, "out.db")));
    }

    private static (long Sum, long Count) Totals(string databasePath, string unit)
    {
        using var db = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly;Pooling=false");
        db.Open();
        var events = db.QueryFirst<(long, long)>(
            "SELECT coalesce(sum(quantity), 0), count(*) FROM events WHERE org_unit = @unit AND voided_at IS NULL", new { unit });
        var rollups = db.QueryFirst<(long, long)>(
            "SELECT coalesce(sum(value), 0), coalesce(sum(events), 0) FROM daily_rollups WHERE org_unit = @unit", new { unit });
        Assert.Equal(events, rollups);
        return events;
    }
}
