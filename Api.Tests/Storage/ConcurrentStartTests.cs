using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Storage;

/// <summary>
/// Processes started at once on one new PostgreSQL database (a deployment's first start behind a load balancer): each
/// starts, and they make one admin key between them, the configured one, which works in every process.
/// </summary>
public sealed class ConcurrentStartTests
{
    [Fact]
    public async Task Processes_started_at_once_on_a_new_database_all_start_and_make_one_admin_key()
    {
        if (!TestStore.OnPostgres)
            Assert.Skip("PostgreSQL only: one SQLite file is served by one process");
        var database = TestStore.NewPostgresDatabase();
        var apps = new List<TallyApp>();
        try
        {
            var starts = Enumerable.Range(0, 3).Select(_ => TallyApp.StartAsync(
                new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = database })).ToList();
            foreach (var start in starts)
                apps.Add(await start);

            using (var db = TestStore.Open(database))
            {
                Assert.Equal(1, db.ExecuteScalar<long>("SELECT count(*) FROM api_keys"));
                Assert.Equal(1, db.ExecuteScalar<long>("SELECT count(*) FROM audit_log WHERE action = 'key.created'"));
            }
            foreach (var app in apps)
            {
                using var admin = app.Admin();
                var me = await admin.GetJsonAsync("/api/v1/me");
                Assert.Contains("admin", me["scopes"]!.AsArray().Select(s => s!.GetValue<string>()));
            }
        }
        finally
        {
            foreach (var app in apps)
                await app.DisposeAsync();
            TestStore.DropPostgresDatabase(database);
        }
    }
}
