using System.Net;
using System.Net.Http.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Admin;

public sealed class BackupTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Backup_streams_a_consistent_database_that_holds_what_was_recorded()
    {
        TestStore.SkipUnlessSqlite("SQLite's online backup (on PostgreSQL the route answers 409)");
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        var created = await (await writer.PostAsJsonAsync("/api/v1/events",
            new { metric = "notices.issued", occurredOn = "2024-07-01", quantity = 59, orgUnit = unit }, Ct)).ReadJsonAsync();

        // Writes keep landing while the snapshot is taken.
        var background = Task.WhenAll(Enumerable.Range(0, 20).Select(i => writer.PostAsJsonAsync("/api/v1/events",
            new { metric = "notices.issued", occurredOn = "2024-07-02", quantity = 1, orgUnit = unit, externalId = $"bg-{i}" }, Ct)));
        using var admin = app.Admin();
        var response = await admin.PostAsync("/api/v1/admin/backup", null, Ct);
        await background;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/vnd.sqlite3", response.Content.Headers.ContentType?.MediaType);
        var file = Path.Combine(app.Folder, "backup-test.db");
        await File.WriteAllBytesAsync(file, await response.Content.ReadAsByteArrayAsync(Ct), Ct);

        using var copy = new SqliteConnection($"Data Source={file};Pooling=False");
        copy.Open();
        Assert.Equal("ok", copy.ExecuteScalar<string>("PRAGMA integrity_check"));
        Assert.Equal(59, copy.ExecuteScalar<long>("SELECT quantity FROM events WHERE id = @id", new { id = created["id"]!.GetValue<string>() }));
        var copied = copy.ExecuteScalar<long>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit });
        Assert.InRange(copied, 1, 21);
        // The copy is one committed state: its rollups agree with its events.
        Assert.Equal(copy.ExecuteScalar<long>("SELECT coalesce(sum(quantity), 0) FROM events WHERE org_unit = @unit AND voided_at IS NULL", new { unit }),
            copy.ExecuteScalar<long>("SELECT coalesce(sum(value), 0) FROM daily_rollups WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task On_postgresql_a_backup_is_refused_with_the_tools_that_take_one()
    {
        if (!TestStore.OnPostgres)
            Assert.Skip("PostgreSQL only: SQLite serves the backup itself");
        using var admin = app.Admin();
        var response = await admin.PostAsync("/api/v1/admin/backup", null, TestContext.Current.CancellationToken);
        var problem = await response.AssertProblemAsync(409, "/problems/conflict");
        Assert.Contains("pg_dump", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Backup_needs_an_unbound_admin_key()
    {
        using var writer = await app.ClientWithAsync(["events:write", "events:read", "totals:read", "audit:read"]);
        await (await writer.PostAsync("/api/v1/admin/backup", null, Ct)).AssertProblemAsync(403, "/problems/forbidden");
        using var bound = await app.ClientWithAsync(["admin"], orgUnit: "hedong");
        await (await bound.PostAsync("/api/v1/admin/backup", null, Ct)).AssertProblemAsync(403, "/problems/forbidden");
    }
}
