using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Ledger;

/// <summary>Writes while storage fails: 503 with Retry-After, nothing half-written, not ready, and back by itself.</summary>
public sealed class StorageFaultTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static object Event(string note, string? externalId = null) => new
    {
        metric = "notices.issued", occurredOn = "2024-10-10", quantity = 3, orgUnit = "hedong", note, externalId,
    };

    private static object Batch(string note, int count) =>
        new { events = Enumerable.Range(0, count).Select(i => Event(note, $"{note}-{i}")).ToArray() };

    private static int StoredWithNote(TallyApp app, string note)
    {
        using var db = app.OpenDatabase();
        return db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE note = @note", new { note });
    }

    private static void AssertIntegrity(TallyApp app)
    {
        using var db = app.OpenDatabase();
        TestStore.AssertIntact(db);
    }

    private static async Task AssertAuditValidAsync(HttpClient client)
    {
        var verify = await (await client.GetAsync("/api/v1/audit/verify", Ct)).ReadJsonAsync();
        Assert.True(verify["valid"]!.GetValue<bool>(), verify.ToJsonString());
    }

    [Fact]
    public async Task An_IO_error_answers_503_makes_readiness_fail_and_service_resumes_when_it_clears()
    {
        using var faults = new ScriptedLedgerFaults();
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>(),
            services => services.AddSingleton<ILedgerFaults>(faults));
        using var client = app.Admin();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready", Ct)).StatusCode);

        faults.FailCommit = (_, _) => true;
        var single = await client.PostAsJsonAsync("/api/v1/events", Event("io-single", "io-single"), Ct);
        var batch = await client.PostAsJsonAsync("/api/v1/events/batch", Batch("io-batch", 20), Ct);
        var ready = await client.GetAsync("/health/ready", Ct);

        await single.AssertProblemAsync(503, "/problems/unavailable");
        Assert.True(single.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        await batch.AssertProblemAsync(503, "/problems/unavailable");
        Assert.NotNull(batch.Headers.RetryAfter);
        await ready.AssertProblemAsync(503, "/problems/unavailable");
        Assert.True(app.Services.GetRequiredService<LedgerWriter>().StorageFailed);
        Assert.Equal(0, StoredWithNote(app, "io-single"));
        Assert.Equal(0, StoredWithNote(app, "io-batch"));

        faults.FailCommit = (_, _) => false;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready", Ct)).StatusCode);
        Assert.False(app.Services.GetRequiredService<LedgerWriter>().StorageFailed);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/v1/events", Event("io-single", "io-single"), Ct)).StatusCode);
        var retried = await client.PostAsJsonAsync("/api/v1/events/batch", Batch("io-batch", 20), Ct);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal(20, (await retried.ReadJsonAsync())["created"]!.GetValue<int>());
        Assert.Equal(1, StoredWithNote(app, "io-single"));
        Assert.Equal(20, StoredWithNote(app, "io-batch"));
        AssertIntegrity(app);
        await AssertAuditValidAsync(client);
    }

    [Fact]
    public async Task A_full_disk_answers_503_stores_nothing_and_writes_resume_once_space_is_freed()
    {
        // A real full disk: the database on a 16 MiB tmpfs that a filler file then fills to the last byte.
        var mountPoint = Path.Combine(Path.GetTempPath(), "tally-tests", "full-disk-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(mountPoint);
        if (Run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mountPoint) != 0)
        {
            Directory.Delete(mountPoint);
            Assert.Skip("This machine does not let the tests mount a size-limited tmpfs.");
        }
        try
        {
            await FillAndRecoverAsync(mountPoint);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (Run("umount", mountPoint) != 0)
                Run("umount", "-l", mountPoint);
            Directory.Delete(mountPoint, recursive: true);
        }
    }

    private static async Task FillAndRecoverAsync(string mountPoint)
    {
        var databasePath = Path.Combine(mountPoint, "tally.db");
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Tally"] = $"Data Source={databasePath}",
        });
        using var client = app.Admin();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/v1/events", Event("disk-warm-up"), Ct)).StatusCode);
        TruncateWal(app);
        var filler = Path.Combine(mountPoint, "filler");
        FillDisk(filler);

        var single = await client.PostAsJsonAsync("/api/v1/events", Event("disk-single", "disk-single"), Ct);
        var batch = await client.PostAsJsonAsync("/api/v1/events/batch", Batch("disk-batch", 200), Ct);
        var ready = await client.GetAsync("/health/ready", Ct);

        await single.AssertProblemAsync(503, "/problems/unavailable");
        Assert.NotNull(single.Headers.RetryAfter);
        await batch.AssertProblemAsync(503, "/problems/unavailable");
        Assert.NotNull(batch.Headers.RetryAfter);
        await ready.AssertProblemAsync(503, "/problems/unavailable");

        File.Delete(filler);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready", Ct)).StatusCode);
        Assert.Equal(0, StoredWithNote(app, "disk-single"));
        Assert.Equal(0, StoredWithNote(app, "disk-batch"));
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/v1/events", Event("disk-single", "disk-single"), Ct)).StatusCode);
        var retried = await client.PostAsJsonAsync("/api/v1/events/batch", Batch("disk-batch", 200), Ct);
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal(1, StoredWithNote(app, "disk-single"));
        Assert.Equal(200, StoredWithNote(app, "disk-batch"));
        AssertIntegrity(app);
        await AssertAuditValidAsync(client);
    }

    [Fact]
    public async Task A_database_file_made_immutable_answers_503_and_writes_resume_once_it_is_writable_again()
    {
        // Read-only for root too: chattr +i (on the database and its WAL; never on -shm, whose shared mapping would
        // turn a refused write into SIGBUS). SQLite gets EPERM and reports SQLITE_IOERR.
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using var client = app.Admin();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/v1/events", Event("ro-warm-up"), Ct)).StatusCode);
        string[] files = [app.DatabasePath, app.DatabasePath + "-wal"];
        if (Run("chattr", ["+i", .. files]) != 0)
        {
            Run("chattr", ["-i", .. files]);
            Assert.Skip("This machine does not let the tests make a file immutable (chattr +i).");
        }
        try
        {
            var single = await client.PostAsJsonAsync("/api/v1/events", Event("ro-single", "ro-single"), Ct);
            var batch = await client.PostAsJsonAsync("/api/v1/events/batch", Batch("ro-batch", 50), Ct);
            var ready = await client.GetAsync("/health/ready", Ct);

            await single.AssertProblemAsync(503, "/problems/unavailable");
            Assert.NotNull(single.Headers.RetryAfter);
            await batch.AssertProblemAsync(503, "/problems/unavailable");
            await ready.AssertProblemAsync(503, "/problems/unavailable");
        }
        finally
        {
            Run("chattr", ["-i", .. files]);
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready", Ct)).StatusCode);
        Assert.Equal(0, StoredWithNote(app, "ro-single"));
        Assert.Equal(0, StoredWithNote(app, "ro-batch"));
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/v1/events", Event("ro-single", "ro-single"), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/api/v1/events/batch", Batch("ro-batch", 50), Ct)).StatusCode);
        Assert.Equal(1, StoredWithNote(app, "ro-single"));
        Assert.Equal(50, StoredWithNote(app, "ro-batch"));
        AssertIntegrity(app);
        await AssertAuditValidAsync(client);
    }

    /// <summary>Empties the WAL file to zero bytes, so the next commit needs space the full disk no longer has.</summary>
    private static void TruncateWal(TallyApp app)
    {
        using var db = app.OpenDatabase();
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var busy = db.QueryFirst<long>("PRAGMA wal_checkpoint(TRUNCATE)");
            if (busy == 0)
                return;
            Thread.Sleep(20);
        }
        Assert.Fail("The WAL could not be checkpointed.");
    }

    private static void FillDisk(string path)
    {
        var chunk = new byte[4096];
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        try
        {
            while (true)
                file.Write(chunk);
        }
        catch (IOException)
        {
            // No space left on the device: the disk is full.
        }
    }

    private static int Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            process.WaitForExit();
            return process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1;
        }
    }
}
