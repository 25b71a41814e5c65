using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Features.Events;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Periods;

/// <summary>Locks hold for every org unit, so these tests run on an app of their own, each on a year of its own.</summary>
[Collection(nameof(SeparateApps))]
public sealed class PeriodTests(SeparateTallyApp separate) : IClassFixture<SeparateTallyApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private TallyApp App => separate.App;

    private static object Event(string day, long quantity = 1) =>
        new { metric = "notices.issued", occurredOn = day, quantity, orgUnit = "hedong" };

    private static async Task<JsonNode> ChangeAsync(HttpClient admin, int year, string action, string reason)
    {
        var response = await admin.PostAsJsonAsync($"/api/v1/periods/{year}/{action}", new { reason }, Ct);
        var body = await response.ReadJsonAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToJsonString());
        return body;
    }

    [Fact]
    public async Task Locking_a_year_refuses_writes_into_it_until_it_is_unlocked()
    {
        using var admin = App.Admin();
        using var writer = await App.ClientWithAsync(["events:write"]);
        var open = await writer.RecordAsync("notices.issued", "2021-05-05", 7, "hedong");

        var locked = await ChangeAsync(admin, 2021, "lock", "2021年度报告已发布");
        Assert.Equal(2021, locked["year"]!.GetValue<int>());
        Assert.True(locked["locked"]!.GetValue<bool>());
        Assert.Equal("2021年度报告已发布", locked["lockReason"]!.GetValue<string>());
        Assert.EndsWith("Z", locked["lockedAt"]!.GetValue<string>());

        var refused = await writer.PostAsJsonAsync("/api/v1/events", Event("2021-12-31", 99), Ct);
        await refused.AssertProblemAsync(409, "/problems/period-locked");
        var voidRefused = await Assert.ThrowsAsync<Tally.Api.Problems.ProblemException>(() => App.VoidAsync(open));
        Assert.Equal("/problems/period-locked", voidRefused.Problem.Type);
        Assert.Equal(HttpStatusCode.Created, (await writer.PostAsJsonAsync("/api/v1/events", Event("2022-01-01"), Ct)).StatusCode);
        using (var db = App.OpenDatabase())
        {
            Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE occurred_on = '2021-12-31'"));
            Assert.Null(db.ExecuteScalar<string?>("SELECT voided_at FROM events WHERE id = @open", new { open }));
            Assert.Equal(7, db.ExecuteScalar<long>("SELECT sum(value) FROM monthly_rollups WHERE month LIKE '2021-%'"));
        }

        var unlocked = await ChangeAsync(admin, 2021, "unlock", "更正一条数据");
        Assert.Equal("""{"year":2021,"locked":false,"lockedAt":null,"lockReason":null}""", unlocked.ToJsonString());
        Assert.Equal(HttpStatusCode.Created, (await writer.PostAsJsonAsync("/api/v1/events", Event("2021-12-31", 99), Ct)).StatusCode);
        Assert.Equal("voided", (await App.VoidAsync(open)).ToResponse().Status);

        using var audit = App.OpenDatabase();
        var entries = audit.Query<(string Action, string Data)>(
            "SELECT action, data FROM audit_log WHERE entity = 'period:2021' ORDER BY seq").ToList();
        Assert.Equal(["period.locked", "period.unlocked"], entries.Select(e => e.Action));
        Assert.Equal("2021年度报告已发布", JsonNode.Parse(entries[0].Data)!["reason"]!.GetValue<string>());
        Assert.Equal("更正一条数据", JsonNode.Parse(entries[1].Data)!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task Locking_twice_or_unlocking_an_open_year_changes_nothing()
    {
        using var admin = App.Admin();
        var first = await ChangeAsync(admin, 2017, "lock", "first");
        var second = await ChangeAsync(admin, 2017, "lock", "second");
        Assert.Equal(first.ToJsonString(), second.ToJsonString());
        var open = await ChangeAsync(admin, 2016, "unlock", "nothing to unlock");
        Assert.Equal("""{"year":2016,"locked":false,"lockedAt":null,"lockReason":null}""", open.ToJsonString());
        using var db = App.OpenDatabase();
        Assert.Equal(1, db.ExecuteScalar<int>("SELECT count(*) FROM audit_log WHERE entity = 'period:2017'"));
        Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM audit_log WHERE entity = 'period:2016'"));
    }

    [Fact]
    public async Task Periods_lists_years_with_data_or_locks_in_order()
    {
        using var admin = App.Admin();
        using var writer = await App.ClientWithAsync(["events:write"]);
        await writer.RecordAsync("notices.issued", "2019-03-03", 1, "hedong");
        await ChangeAsync(admin, 2005, "lock", "old year, no data");
        using var anyKey = await App.ClientWithAsync(["events:read"]);

        var items = new List<JsonNode>();
        string? cursor = null;
        do
        {
            var page = await anyKey.GetJsonAsync("/api/v1/periods?limit=2" + (cursor is null ? "" : "&cursor=" + cursor));
            items.AddRange(page["items"]!.AsArray().Select(i => i!));
            cursor = page["nextCursor"]?.GetValue<string>();
        }
        while (cursor is not null);
        var years = items.Select(i => i["year"]!.GetValue<int>()).ToList();
        Assert.Equal(years.Order(), years);
        Assert.Equal(years.Distinct().Count(), years.Count);
        Assert.Contains(2019, years);
        var old = items.Single(i => i["year"]!.GetValue<int>() == 2005);
        Assert.True(old["locked"]!.GetValue<bool>());
        Assert.Equal("old year, no data", old["lockReason"]!.GetValue<string>());
        var withData = items.Single(i => i["year"]!.GetValue<int>() == 2019);
        Assert.Equal("""{"year":2019,"locked":false,"lockedAt":null,"lockReason":null}""", withData.ToJsonString());
    }

    [Theory]
    [InlineData("2024/lock", """{"reason":""}""", "reason")]
    [InlineData("2024/lock", """{}""", "reason")]
    [InlineData("2024/unlock", """{"reason":null}""", "reason")]
    [InlineData("1999/lock", """{"reason":"x"}""", "year")]
    [InlineData("10000/lock", """{"reason":"x"}""", "year")]
    [InlineData("twenty/unlock", """{"reason":"x"}""", "year")]
    [InlineData("2024/lock", """{"reason":"x","extra":1}""", "extra")]
    public async Task Invalid_lock_requests_are_400_and_change_nothing(string path, string body, string field)
    {
        using var admin = App.Admin();
        await (await admin.PostJsonAsync("/api/v1/periods/" + path, body)).AssertValidationAsync(field);
        using var db = App.OpenDatabase();
        Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM periods WHERE year = 2024"));
    }

    [Fact]
    public async Task Only_an_admin_key_bound_to_no_org_unit_may_lock()
    {
        using var boundAdmin = await App.ClientWithAsync(["admin"], orgUnit: "hedong");
        await (await boundAdmin.PostAsJsonAsync("/api/v1/periods/2012/lock", new { reason = "x" }, Ct)).AssertProblemAsync(403, "/problems/forbidden");
        using var writer = await App.ClientWithAsync(["events:write", "events:read", "totals:read", "audit:read"]);
        await (await writer.PostAsJsonAsync("/api/v1/periods/2012/lock", new { reason = "x" }, Ct)).AssertProblemAsync(403, "/problems/forbidden");
        await (await writer.PostAsJsonAsync("/api/v1/periods/2012/unlock", new { reason = "x" }, Ct)).AssertProblemAsync(403, "/problems/forbidden");
        using var db = App.OpenDatabase();
        Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM periods WHERE year = 2012"));
    }
}
