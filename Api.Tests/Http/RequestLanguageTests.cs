using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Tally.Api.Http;
using Tally.Api.Tests.Features.Imports;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Http;

/// <summary>Messages are Chinese by default and English on request; type, field paths and JSON names never change.</summary>
public sealed class RequestLanguageTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string UnknownMetricEvent =
        """{"metric":"约谈自媒体帐号","occurredOn":"2024-03-05","quantity":1,"orgUnit":"hedong"}""";

    private static async Task<(JsonNode Body, string Text)> ProblemAsync(HttpResponseMessage response, int status, string type)
    {
        var text = await response.Content.ReadAsStringAsync(Ct);
        var body = await response.AssertProblemAsync(status, type);
        return (body, text);
    }

    private static string[] Keys(JsonNode body) => [.. body["errors"]!.AsObject().Select(p => p.Key).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task An_unknown_metric_is_answered_in_chinese_by_default_and_in_english_on_request_with_the_same_type_and_fields()
    {
        using var chinese = app.Client(language: null);
        using var english = app.Client(language: "en");
        var (zh, zhText) = await ProblemAsync(await chinese.PostJsonAsync("/api/v1/events", UnknownMetricEvent), 400, "/problems/validation");
        var (en, _) = await ProblemAsync(await english.PostJsonAsync("/api/v1/events", UnknownMetricEvent), 400, "/problems/validation");

        Assert.Equal("请求校验未通过", zh["title"]!.GetValue<string>());
        Assert.Equal("Validation failed", en["title"]!.GetValue<string>());
        Assert.Equal(["metric"], Keys(zh));
        Assert.Equal(Keys(zh), Keys(en));
        // The seeded metric comes first; metrics other tests of the shared app create may follow it.
        Assert.StartsWith("未知指标“约谈自媒体帐号”，是否要找 accounts.interviewed（约谈自媒体账号）", zh["errors"]!["metric"]![0]!.GetValue<string>(),
            StringComparison.Ordinal);
        Assert.StartsWith("Unknown metric '约谈自媒体帐号'; did you mean `accounts.interviewed` (约谈自媒体账号)",
            en["errors"]!["metric"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        // Written as it reads: no \u escapes for Chinese or quotes.
        Assert.Contains("约谈自媒体账号", zhText, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u", zhText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refusal_the_ledger_writer_words_is_in_the_language_of_the_request_that_sent_it()
    {
        using var chinese = app.Client(language: null);
        using var english = app.Client();
        var externalId = Unique.Code("lang-ext");
        string Body(int quantity) =>
            $$"""{"metric":"notices.issued","occurredOn":"2024-03-05","quantity":{{quantity}},"orgUnit":"hedong","externalId":"{{externalId}}"}""";
        Assert.Equal(HttpStatusCode.Created, (await english.PostJsonAsync("/api/v1/events", Body(1))).StatusCode);
        var (zh, _) = await ProblemAsync(await chinese.PostJsonAsync("/api/v1/events", Body(2)), 409, "/problems/idempotency-conflict");
        var (en, _) = await ProblemAsync(await english.PostJsonAsync("/api/v1/events", Body(2)), 409, "/problems/idempotency-conflict");
        Assert.Equal("外部编号冲突", zh["title"]!.GetValue<string>());
        Assert.Contains("本来源已用外部编号", zh["errors"]!["externalId"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("Idempotency conflict", en["title"]!.GetValue<string>());
        Assert.Contains("was already used by this source", en["errors"]!["externalId"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(Keys(zh), Keys(en));
    }

    [Fact]
    public async Task A_body_carries_chinese_and_quotes_literally()
    {
        using var english = app.Client();
        var unit = await english.GetAsync("/api/v1/org-units/hedong", Ct);
        Assert.Contains("河东区", await unit.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        var refused = await english.PostJsonAsync("/api/v1/events", UnknownMetricEvent);
        var text = await refused.Content.ReadAsStringAsync(Ct);
        Assert.Contains("'约谈自媒体帐号'", text, StringComparison.Ordinal);
        Assert.DoesNotContain("\\u0027", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("en;q=0.5, zh;q=0.9", "zh")]
    [InlineData("zh-TW;q=0.2, en-US", "en")]
    [InlineData("fr, en;q=0.8", "en")]
    [InlineData("fr", "zh")]
    [InlineData("en;q=0, zh-CN", "zh")]
    [InlineData("*", "zh")]
    public void Accept_language_picks_its_most_preferred_known_language(string header, string expected) =>
        Assert.Equal(expected, RequestLanguage.Choose(header, RequestLanguage.Chinese).TwoLetterISOLanguageName);

    [Fact]
    public async Task The_server_language_is_used_when_the_request_prefers_neither()
    {
        await using var englishServer = await TallyApp.StartAsync(new Dictionary<string, string?> { ["Tally:Language"] = "en" });
        using var french = englishServer.Client(language: "fr");
        var (body, _) = await ProblemAsync(await french.PostJsonAsync("/api/v1/events", UnknownMetricEvent), 400, "/problems/validation");
        Assert.Equal("Validation failed", body["title"]!.GetValue<string>());
        using var chinese = englishServer.Client(language: "zh-CN");
        var (zh, _) = await ProblemAsync(await chinese.PostJsonAsync("/api/v1/events", UnknownMetricEvent), 400, "/problems/validation");
        Assert.Equal("请求校验未通过", zh["title"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_403_names_the_missing_scope_in_either_language()
    {
        var key = await app.KeyAsync(["events:read"]);
        using var chinese = app.Client(key, language: null);
        using var english = app.Client(key, language: "en");
        var (zh, _) = await ProblemAsync(await chinese.GetAsync("/api/v1/totals?year=2024", Ct), 403, "/problems/forbidden");
        var (en, _) = await ProblemAsync(await english.GetAsync("/api/v1/totals?year=2024", Ct), 403, "/problems/forbidden");
        Assert.Contains("需要 totals:read 权限", zh["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("requires totals:read", en["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bound_key_s_403_names_the_unit_it_is_bound_to()
    {
        var unit = await app.OrgUnitAsync();
        var key = await app.KeyAsync(["totals:read"], unit);
        using var chinese = app.Client(key, language: null);
        var (zh, _) = await ProblemAsync(await chinese.GetAsync("/api/v1/totals?year=2024&orgUnit=tianjin", Ct), 403, "/problems/forbidden");
        Assert.Contains($"绑定于填报单位 {unit}", zh["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains($"需要 {unit} 或其下级单位", zh["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_negative_quantity_is_below_1_not_no_number()
    {
        using var chinese = app.Client(language: null);
        using var english = app.Client();
        const string body = """{"metric":"notices.issued","occurredOn":"2024-03-05","quantity":-7,"orgUnit":"hedong"}""";
        var (zh, _) = await ProblemAsync(await chinese.PostJsonAsync("/api/v1/events", body), 400, "/problems/validation");
        var (en, _) = await ProblemAsync(await english.PostJsonAsync("/api/v1/events", body), 400, "/problems/validation");
        Assert.Contains("须至少为 1", zh["errors"]!["quantity"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("must be at least 1 (it is -7)", en["errors"]!["quantity"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/api/v1/reports/annual/1999")]
    [InlineData("/api/v1/totals?year=99999999999")]
    [InlineData("/api/v1/totals?year=abc")]
    public async Task A_year_out_of_range_names_the_range(string url)
    {
        using var chinese = app.Client(language: null);
        using var english = app.Client();
        var (zh, _) = await ProblemAsync(await chinese.GetAsync(url, Ct), 400, "/problems/validation");
        var (en, _) = await ProblemAsync(await english.GetAsync(url, Ct), 400, "/problems/validation");
        Assert.Contains("2000 到 9999", zh["errors"]!["year"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("2000 to 9999", en["errors"]!["year"]![0]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(Keys(zh), Keys(en));
    }

    [Fact]
    public async Task A_rule_without_its_own_message_is_still_in_chinese()
    {
        using var chinese = app.Client(language: null);
        var (zh, _) = await ProblemAsync(await chinese.PostJsonAsync("/api/v1/org-units", """{"code":"x-lang-unit"}"""), 400, "/problems/validation");
        var message = zh["errors"]!["name"]![0]!.GetValue<string>();
        Assert.Equal("name 为必填项。", message);
    }

    [Fact]
    public async Task An_import_s_row_errors_are_in_the_language_of_the_post_that_queued_it()
    {
        var file = Encoding.UTF8.GetBytes("指标,日期,数量,填报单位,外部编号\n约谈自媒体帐号,2024-03-05,-7,hedong,lang-1\n");
        using var chinese = app.Client(language: null);
        var import = await HostileFiles.ImportAsync(chinese, file, "text/csv", "name=" + Unique.Code("lang"));
        Assert.Equal("failed", import["status"]!.GetValue<string>());
        // Read back in English: the errors stay in the language they were written in.
        using var english = app.Client();
        var id = import["id"]!.GetValue<string>();
        var again = await (await english.GetAsync($"/api/v1/imports/{id}", Ct)).ReadJsonAsync();
        var messages = again["errors"]!.AsArray().Select(e => (e!["field"]!.GetValue<string>(), e["message"]!.GetValue<string>())).ToList();
        Assert.Contains(messages, m => m.Item1 == "指标" && m.Item2.Contains("是否要找 accounts.interviewed", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Item1 == "数量" && m.Item2.Contains("须至少为 1", StringComparison.Ordinal));
    }
}
