using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Imports;

public sealed class ImportRestartTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Import_state_survives_a_restart_and_an_import_cut_off_by_it_is_failed()
    {
        var folder = Path.Combine(Path.GetTempPath(), "tally-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = $"Data Source={Path.Combine(folder, "tally.db")}" };
        await using (var first = await TallyApp.StartAsync(settings))
        {
            // The outcomes as the worker stores them, and a row a crash left 'running' (the process gone, its row kept).
            using var db = new Microsoft.Data.Sqlite.SqliteConnection(settings["ConnectionStrings:Tally"]);
            db.Open();
            db.Execute("""
                INSERT INTO imports (id, name, key_id, format, status, dry_run, mode, rows, processed, created, errors, created_at, finished_at)
                VALUES ('imp_done', 'before-restart', 'key_x', 'csv', 'succeeded', 0, 'create', 1, 1, 1, '[]',
                        '2026-01-01T00:00:00.0000000Z', '2026-01-01T00:00:01.0000000Z'),
                       ('imp_cutoff', 'cut-off', 'key_x', 'csv', 'running', 0, 'create', 500, 0, 0, '[]',
                        '2026-01-01T00:00:00.0000000Z', NULL)
                """);
            // The next start bootstraps the admin key afresh, whether or not this branch reloads stored keys at start.
            db.Execute("DELETE FROM api_keys");
        }

        await using var second = await TallyApp.StartAsync(settings);
        using var admin = second.Admin();
        var kept = await (await admin.GetAsync("/api/v1/imports/imp_done", Ct)).ReadJsonAsync();
        var cut = await (await admin.GetAsync("/api/v1/imports/imp_cutoff", Ct)).ReadJsonAsync();

        Assert.Equal("succeeded", kept["status"]!.GetValue<string>());
        Assert.Equal(1, kept["summary"]!["created"]!.GetValue<int>());
        Assert.Equal("before-restart", kept["name"]!.GetValue<string>());
        Assert.Equal("failed", cut["status"]!.GetValue<string>());
        Assert.Contains("stopped", cut["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bound_key_sees_only_its_own_imports()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>());
        var unit = await app.OrgUnitAsync();
        using var owner = await app.ClientWithAsync(["events:write"], orgUnit: unit);
        using var neighbour = await app.ClientWithAsync(["events:write"], orgUnit: unit);
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes($"metric,occurredOn,quantity,orgUnit\nnotices.issued,2024-01-02,1,{unit}\n"));
        content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        var id = (await (await owner.PostAsync("/api/v1/imports?name=mine", content, Ct)).ReadJsonAsync())["id"]!.GetValue<string>();

        Assert.Equal(HttpStatusCode.OK, (await owner.GetAsync($"/api/v1/imports/{id}", Ct)).StatusCode);
        await (await neighbour.GetAsync($"/api/v1/imports/{id}", Ct)).AssertProblemAsync(403, "/problems/forbidden");
        await (await neighbour.GetAsync("/api/v1/imports/imp_none", Ct)).AssertProblemAsync(403, "/problems/forbidden");
    }
}
