using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Catalog;

public sealed class MetricTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_nine_metrics_of_the_2024_report_are_seeded_in_catalog_order()
    {
        using var client = await app.ClientWithAsync(["events:read"]);
        var page = await (await client.GetAsync("/api/v1/metrics?limit=9", Ct)).ReadJsonAsync();
        var items = page["items"]!.AsArray();
        Assert.Equal(
            ["outreach.sessions", "campaign.actions", "leads.handled", "notices.issued", "websites.cleaned",
             "websites.deregistered", "accounts.interviewed", "reports.political", "reports.tianjin"],
            items.Select(m => m!["code"]!.GetValue<string>()));
        var cleaned = items[4]!;
        Assert.Equal("清理涉黄涉赌网站", cleaned["name"]!.GetValue<string>());
        Assert.Equal("家", cleaned["unit"]!.GetValue<string>());
        Assert.Equal("累计清理涉黄涉赌网站{value}家", cleaned["reportTemplate"]!.GetValue<string>());
        Assert.Equal(["pornography", "gambling"], cleaned["dimensions"]![0]!["values"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.True(items[1]!["approximate"]!.GetValue<bool>());
        Assert.Equal("“清朗”“净网”等专项行动", items[1]!["name"]!.GetValue<string>());
        Assert.False(items[0]!["approximate"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Create_returns_201_with_Location_and_the_metric_reads_back()
    {
        using var admin = app.Admin();
        var code = Unique.Code("m");
        var response = await admin.PostAsJsonAsync("/api/v1/metrics", new
        {
            code, name = "网络谣言处置", unit = "条", nameEn = "Rumours handled",
            dimensions = new[] { new { key = "channel", values = new[] { "weibo", "wechat" } } },
            reportTemplate = "处置网络谣言{value}条",
        }, Ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal($"/api/v1/metrics/{code}", response.Headers.Location?.OriginalString);
        var read = await (await admin.GetAsync($"/api/v1/metrics/{code}", Ct)).ReadJsonAsync();
        Assert.Equal("网络谣言处置", read["name"]!.GetValue<string>());
        Assert.Equal("Rumours handled", read["nameEn"]!.GetValue<string>());
        Assert.False(read["approximate"]!.GetValue<bool>());
        Assert.True(read["active"]!.GetValue<bool>());
        Assert.Equal("wechat", read["dimensions"]![0]!["values"]![1]!.GetValue<string>());

        using var db = app.OpenDatabase();
        Assert.Equal("处置网络谣言{value}条", db.ExecuteScalar<string>("SELECT report_template FROM metrics WHERE code = @code", new { code }));
    }

    [Fact]
    public async Task Creating_an_existing_code_is_409_conflict()
    {
        using var admin = app.Admin();
        var response = await admin.PostAsJsonAsync("/api/v1/metrics", new { code = "websites.cleaned", name = "x", unit = "家" }, Ct);
        await response.AssertProblemAsync(409, "/problems/conflict");
        var read = await (await admin.GetAsync("/api/v1/metrics/websites.cleaned", Ct)).ReadJsonAsync();
        Assert.Equal("清理涉黄涉赌网站", read["name"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"code":"Bad Code","name":"x","unit":"次"}""", "code")]
    [InlineData("""{"code":"-starts-with-dash","name":"x","unit":"次"}""", "code")]
    [InlineData("""{"code":"ok.code","unit":"次"}""", "name")]
    [InlineData("""{"code":"ok.code","name":"x"}""", "unit")]
    [InlineData("""{"code":"ok.code","name":"x","unit":"次","reportTemplate":"no placeholder"}""", "reportTemplate")]
    [InlineData("""{"code":"ok.code","name":"x","unit":"次","dimensions":[{"key":"Bad Key","values":["a"]}]}""", "dimensions[0].key")]
    [InlineData("""{"code":"ok.code","name":"x","unit":"次","dimensions":[{"key":"k","values":[]}]}""", "dimensions[0].values")]
    [InlineData("""{"code":"ok.code","name":"x","unit":"次","approximate":"yes"}""", "approximate")]
    [InlineData("""{"code":"ok.code","name":"x","unit":"次","colour":"red"}""", "colour")]
    public async Task Create_rejects_invalid_definitions(string json, string field)
    {
        using var admin = app.Admin();
        await (await admin.PostJsonAsync("/api/v1/metrics", json)).AssertValidationAsync(field);
        using var db = app.OpenDatabase();
        Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM metrics WHERE code IN ('ok.code', 'Bad Code')"));
    }

    [Fact]
    public async Task Put_replaces_the_definition_and_keeps_the_code()
    {
        using var admin = app.Admin();
        var code = Unique.Code("m");
        await admin.PostAsJsonAsync("/api/v1/metrics", new { code, name = "旧名", unit = "次" }, Ct);

        var response = await admin.PutAsJsonAsync($"/api/v1/metrics/{code}", new { name = "新名", unit = "个", approximate = true, active = false }, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal(code, body["code"]!.GetValue<string>());
        var read = await (await admin.GetAsync($"/api/v1/metrics/{code}", Ct)).ReadJsonAsync();
        Assert.Equal("新名", read["name"]!.GetValue<string>());
        Assert.Equal("个", read["unit"]!.GetValue<string>());
        Assert.True(read["approximate"]!.GetValue<bool>());
        Assert.False(read["active"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Put_on_an_unknown_metric_is_404()
    {
        using var admin = app.Admin();
        await (await admin.PutAsJsonAsync("/api/v1/metrics/no.such.metric", new { name = "x", unit = "次" }, Ct))
            .AssertProblemAsync(404, "/problems/not-found");
        await (await admin.GetAsync("/api/v1/metrics/no.such.metric", Ct)).AssertProblemAsync(404, "/problems/not-found");
        await (await admin.GetAsync("/api/v1/metrics/%E4%B8%AD%E6%96%87", Ct)).AssertProblemAsync(404, "/problems/not-found");
    }

    [Fact]
    public async Task Removing_a_dimension_value_that_events_use_is_409_and_an_unused_one_goes()
    {
        using var admin = app.Admin();
        var code = Unique.Code("m");
        await admin.PostAsJsonAsync("/api/v1/metrics", new
        {
            code, name = "x", unit = "次",
            dimensions = new[] { new { key = "kind", values = new[] { "a", "b", "c" } } },
        }, Ct);
        var recorded = await admin.PostAsJsonAsync("/api/v1/events", new
        {
            metric = code, occurredOn = "2024-05-01", quantity = 3, orgUnit = "hedong", dimensions = new { kind = "a" },
        }, Ct);
        Assert.Equal(HttpStatusCode.Created, recorded.StatusCode);

        var refused = await admin.PutAsJsonAsync($"/api/v1/metrics/{code}", new
        {
            name = "x", unit = "次", dimensions = new[] { new { key = "kind", values = new[] { "b", "c" } } },
        }, Ct);
        await refused.AssertProblemAsync(409, "/problems/conflict");

        var allowed = await admin.PutAsJsonAsync($"/api/v1/metrics/{code}", new
        {
            name = "x", unit = "次", dimensions = new[] { new { key = "kind", values = new[] { "a", "b" } } },
        }, Ct);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        var read = await (await admin.GetAsync($"/api/v1/metrics/{code}", Ct)).ReadJsonAsync();
        Assert.Equal(["a", "b"], read["dimensions"]![0]!["values"]!.AsArray().Select(v => v!.GetValue<string>()));
    }

    [Fact]
    public async Task Catalog_writes_need_the_admin_scope_and_reads_any_key()
    {
        using var writer = await app.ClientWithAsync(["events:write", "events:read", "totals:read", "audit:read"]);
        await (await writer.PostAsJsonAsync("/api/v1/metrics", new { code = Unique.Code("m"), name = "x", unit = "次" }, Ct))
            .AssertProblemAsync(403, "/problems/forbidden");
        Assert.Equal(HttpStatusCode.OK, (await writer.GetAsync("/api/v1/metrics/websites.cleaned", Ct)).StatusCode);
    }

    [Fact]
    public async Task Catalog_lists_page_without_repeats()
    {
        using var admin = app.Admin();
        var codes = new List<string>();
        string? cursor = null;
        do
        {
            var page = await (await admin.GetAsync("/api/v1/metrics?limit=4" + (cursor is null ? "" : "&cursor=" + cursor), Ct)).ReadJsonAsync();
            codes.AddRange(page["items"]!.AsArray().Select(m => m!["code"]!.GetValue<string>()));
            cursor = page["nextCursor"]?.GetValue<string>();
        } while (cursor is not null);
        Assert.Equal(codes.Distinct().Count(), codes.Count);
        Assert.True(codes.Count >= 9);
        Assert.Equal("outreach.sessions", codes[0]);
    }

    [Fact]
    public async Task Catalog_changes_are_audited()
    {
        using var admin = app.Admin();
        var code = Unique.Code("m");
        await admin.PostAsJsonAsync("/api/v1/metrics", new { code, name = "审计", unit = "次" }, Ct);
        using var db = app.OpenDatabase();
        var data = db.ExecuteScalar<string>("SELECT data FROM audit_log WHERE entity = @entity AND action = 'metric.created'",
            new { entity = "metric:" + code });
        Assert.Equal(code, JsonNode.Parse(data!)!["code"]!.GetValue<string>());
    }
}
