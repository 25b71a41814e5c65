using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Catalog;

/// <summary>Dimension and value names in the catalog: seeded as the report words them, written and validated by the API.</summary>
public sealed class DimensionNameTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("outreach.sessions", "venue", "场所", "government:机关,community:社区,enterprise:企业,commercial:商圈")]
    [InlineData("leads.handled", "kind", "类型", "infringement:网站侵权,fraud:网络诈骗")]
    [InlineData("websites.cleaned", "category", "类别", "pornography:涉黄,gambling:涉赌")]
    public async Task Seeded_dimensions_carry_the_names_the_report_uses(string metric, string key, string name, string values)
    {
        using var client = await app.ClientWithAsync(["events:read"]);
        var read = await client.GetJsonAsync($"/api/v1/metrics/{metric}");
        var dimension = read["dimensions"]![0]!;
        Assert.Equal(key, dimension["key"]!.GetValue<string>());
        Assert.Equal(name, dimension["name"]!.GetValue<string>());
        var expected = values.Split(',').Select(p => p.Split(':')).ToList();
        Assert.Equal(expected.Select(p => p[0]), dimension["values"]!.AsArray().Select(v => v!.GetValue<string>()));
        Assert.Equal(expected.Select(p => (p[0], p[1])),
            dimension["valueNames"]!.AsObject().Select(p => (p.Key, p.Value!.GetValue<string>())));

        // The list says the same, and so does the catalog as it stood before the names were added (metric history).
        var page = await client.GetJsonAsync("/api/v1/metrics?limit=20");
        var listed = page["items"]!.AsArray().Single(m => m!["code"]!.GetValue<string>() == metric)!;
        Assert.Equal(name, listed["dimensions"]![0]!["name"]!.GetValue<string>());
        using var db = app.OpenDatabase();
        Assert.All(db.Query<string>("SELECT dimensions FROM metric_history WHERE code = @metric AND valid_from < '2025-01-02'",
            new { metric }), d => Assert.Contains(name, d, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Names_are_created_read_back_replaced_and_a_dimension_without_names_shows_none()
    {
        using var admin = app.Admin();
        var code = Unique.Code("m");
        var created = await admin.PostAsJsonAsync("/api/v1/metrics", new
        {
            code, name = "网络谣言处置", unit = "条",
            dimensions = new object[]
            {
                new { key = "channel", name = "渠道", values = new[] { "weibo", "wechat" }, valueNames = new { wechat = "微信", weibo = "微博" } },
                new { key = "plain", values = new[] { "a" } },
            },
        }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.ReadJsonAsync();
        Assert.Equal("渠道", body["dimensions"]![0]!["name"]!.GetValue<string>());

        var read = await admin.GetJsonAsync($"/api/v1/metrics/{code}");
        var channel = read["dimensions"]![0]!;
        Assert.Equal("渠道", channel["name"]!.GetValue<string>());
        // Stored in the order of the values, whatever order the client wrote them in.
        Assert.Equal(["weibo", "wechat"], channel["valueNames"]!.AsObject().Select(p => p.Key));
        Assert.Equal("微信", channel["valueNames"]!["wechat"]!.GetValue<string>());
        var plain = read["dimensions"]![1]!;
        Assert.Null(plain["name"]);
        Assert.Empty(plain["valueNames"]!.AsObject());

        var replaced = await admin.PutAsJsonAsync($"/api/v1/metrics/{code}", new
        {
            name = "网络谣言处置", unit = "条",
            dimensions = new object[] { new { key = "channel", name = "平台", values = new[] { "weibo", "wechat" }, valueNames = new { weibo = "新浪微博" } } },
        }, Ct);
        Assert.Equal(HttpStatusCode.OK, replaced.StatusCode);
        read = await admin.GetJsonAsync($"/api/v1/metrics/{code}");
        Assert.Equal("平台", read["dimensions"]![0]!["name"]!.GetValue<string>());
        Assert.Equal(["weibo"], read["dimensions"]![0]!["valueNames"]!.AsObject().Select(p => p.Key));
        using var db = app.OpenDatabase();
        Assert.Contains("新浪微博", JsonNode.Parse(db.ExecuteScalar<string>("SELECT dimensions FROM metrics WHERE code = @code", new { code })!)!
            .ToJsonString(new System.Text.Json.JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }),
            StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"key":"k","values":["a","b"],"valueNames":{"c":"丙"}}""", "c")]
    [InlineData("""{"key":"k","values":["a","b"],"valueNames":{"a":"同名","b":"同名"}}""", "b")]
    [InlineData("""{"key":"k","values":["a","b"],"valueNames":{"a":"b"}}""", "a")]
    [InlineData("""{"key":"k","values":["a","b"],"valueNames":{"a":""}}""", "a")]
    [InlineData("""{"key":"k","values":["a","b"],"valueNames":{"a":null}}""", "a")]
    [InlineData("""{"key":"k","values":["a","b"],"valueNames":{"a":" 甲"}}""", "a")]
    public async Task Value_names_name_declared_values_once_and_unambiguously(string dimension, string value)
    {
        using var admin = app.Admin();
        var response = await admin.PostJsonAsync("/api/v1/metrics",
            $$"""{"code":"{{Unique.Code("m")}}","name":"x","unit":"次","dimensions":[{{dimension}}]}""");
        var body = await response.AssertProblemAsync(400, "/problems/validation");
        var fields = body["errors"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Contains(fields, f => f.EndsWith("valueNames." + value, StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"a\\u0007b\"")]
    [InlineData("\"一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一\"")]
    public async Task A_dimension_name_is_1_to_100_characters_of_one_line(string name)
    {
        using var admin = app.Admin();
        var response = await admin.PostJsonAsync("/api/v1/metrics",
            $$"""{"code":"{{Unique.Code("m")}}","name":"x","unit":"次","dimensions":[{"key":"k","name":{{name}},"values":["a"]}]}""");
        var body = await response.AssertProblemAsync(400, "/problems/validation");
        Assert.Contains(body["errors"]!.AsObject().Select(p => p.Key), f => f.StartsWith("dimensions[0].name", StringComparison.OrdinalIgnoreCase));
    }
}
