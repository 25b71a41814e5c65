using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Reports;

public sealed class GetAnnualReportTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] SeededOrder =
    [
        "outreach.sessions", "campaign.actions", "leads.handled", "notices.issued", "websites.cleaned",
        "websites.deregistered", "accounts.interviewed", "reports.political", "reports.tianjin",
    ];

    private static JsonNode Figure(JsonNode report, string metric) =>
        report["figures"]!.AsArray().Single(f => f!["metric"]!.GetValue<string>() == metric)!;

    /// <summary>The digest as CONTRACT.md and the endpoint describe it, recomputed from the stored events.</summary>
    private string ExpectedDigest(string orgUnit, string asOf)
    {
        using var db = app.OpenDatabase();
        var events = db.Query<(string Id, long Quantity)>(
            """
            SELECT e.id, e.quantity FROM events e JOIN metrics m ON m.code = e.metric AND m.active = 1
            WHERE e.org_unit IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @orgUnit)
              AND e.occurred_on BETWEEN '2024-01-01' AND '2024-12-31'
              AND e.recorded_at <= @asOf AND (e.voided_at IS NULL OR e.voided_at > @asOf)
            """, new { orgUnit, asOf = StorageInstant(asOf) });
        var text = string.Concat(events.OrderBy(e => e.Id, StringComparer.Ordinal)
            .Select(e => $"{e.Id}\t{e.Quantity.ToString(CultureInfo.InvariantCulture)}\n"));
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    private static string StorageInstant(string json) =>
        DateTimeOffset.Parse(json, CultureInfo.InvariantCulture).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    [Fact]
    public async Task The_report_lists_every_active_metric_in_catalog_order_with_display_and_sentence()
    {
        var unit = await app.OrgUnitAsync();
        var child = await app.OrgUnitAsync(unit);
        using var writer = await app.ClientWithAsync(["events:write"]);
        await writer.RecordAsync("campaign.actions", "2024-02-01", 40, unit);
        await writer.RecordAsync("campaign.actions", "2024-11-30", 3, child);
        await writer.RecordAsync("reports.tianjin", "2024-01-01", 80_000, child);
        await writer.RecordAsync("reports.tianjin", "2024-12-31", 6_112, unit);
        await writer.RecordAsync("reports.tianjin", "2023-12-31", 1_000_000, unit); // another year
        await writer.RecordAsync("websites.cleaned", "2024-06-01", 105, unit, new { category = "gambling" });
        var inactive = Unique.Code("inactive");
        using (var admin = app.Admin())
        {
            var created = await admin.PostAsJsonAsync("/api/v1/metrics",
                new { code = inactive, name = "停用指标", unit = "个", active = false }, Ct);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        using var reader = await app.ClientWithAsync(["totals:read"]);

        var report = await reader.GetJsonAsync($"/api/v1/reports/annual/2024?orgUnit={unit}");

        Assert.Equal(2024, report["year"]!.GetValue<int>());
        Assert.Equal(unit, report["orgUnit"]!.GetValue<string>());
        Assert.Equal(report["generatedAt"]!.GetValue<string>(), report["asOf"]!.GetValue<string>());
        var codes = report["figures"]!.AsArray().Select(f => f!["metric"]!.GetValue<string>()).ToList();
        Assert.Equal(SeededOrder, codes.Take(SeededOrder.Length));
        Assert.DoesNotContain(inactive, codes);
        Assert.Equal(codes.Count, codes.Distinct().Count());

        Assert.Equal(JsonNode.Parse("""
            {"metric":"campaign.actions","name":"“清朗”“净网”等专项行动","unit":"次","value":43,"display":"40余",
             "sentence":"深入开展“清朗”“净网”等专项行动40余次","events":2}
            """)!.ToJsonString(), Figure(report, "campaign.actions").ToJsonString());
        Assert.Equal("8.6万", Figure(report, "reports.tianjin")["display"]!.GetValue<string>());
        Assert.Equal("举报涉津有害信息及敏感线索8.6万条", Figure(report, "reports.tianjin")["sentence"]!.GetValue<string>());
        Assert.Equal(86_112, Figure(report, "reports.tianjin")["value"]!.GetValue<long>());
        Assert.Equal("累计清理涉黄涉赌网站105家", Figure(report, "websites.cleaned")["sentence"]!.GetValue<string>());
        var none = Figure(report, "leads.handled");
        Assert.Equal((0L, "0", 0L, "及时联动处置网站侵权、网络诈骗等问题线索0起"),
            (none["value"]!.GetValue<long>(), none["display"]!.GetValue<string>(), none["events"]!.GetValue<long>(),
             none["sentence"]!.GetValue<string>()));
        Assert.Equal(ExpectedDigest(unit, report["asOf"]!.GetValue<string>()), report["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_digest_is_stable_for_an_instant_and_changes_with_any_counted_change()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var url = $"/api/v1/reports/annual/2024?orgUnit={unit}";

        var empty = await reader.GetJsonAsync(url);
        Assert.Equal("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", empty["digest"]!.GetValue<string>());

        var first = await writer.RecordAsync("notices.issued", "2024-04-01", 50, unit);
        await writer.RecordAsync("notices.issued", "2024-05-01", 9, unit);
        var published = await reader.GetJsonAsync(url);
        var publishedAsOf = published["asOf"]!.GetValue<string>();
        var atPublished = url + "&asOf=" + Uri.EscapeDataString(publishedAsOf);
        Assert.Equal(published["digest"]!.ToJsonString(), (await reader.GetJsonAsync(atPublished))["digest"]!.ToJsonString());

        await writer.RecordAsync("notices.issued", "2024-06-01", 1, unit);
        var later = await reader.GetJsonAsync(url);
        Assert.NotEqual(published["digest"]!.GetValue<string>(), later["digest"]!.GetValue<string>());
        Assert.Equal(60, Figure(later, "notices.issued")["value"]!.GetValue<long>());

        await app.VoidAsync(first);
        var afterVoid = await reader.GetJsonAsync(url);
        Assert.NotEqual(later["digest"]!.GetValue<string>(), afterVoid["digest"]!.GetValue<string>());
        Assert.Equal(10, Figure(afterVoid, "notices.issued")["value"]!.GetValue<long>());
        Assert.Equal(ExpectedDigest(unit, afterVoid["asOf"]!.GetValue<string>()), afterVoid["digest"]!.GetValue<string>());

        // Whatever came later, the published instant gives the published figures and digest.
        var again = await reader.GetJsonAsync(atPublished);
        Assert.Equal(published["digest"]!.GetValue<string>(), again["digest"]!.GetValue<string>());
        // Other test classes add metrics to this shared app meanwhile: the seeded metrics' figures are this test's.
        Assert.Equal(SeededOrder.Select(m => Figure(published, m).ToJsonString()), SeededOrder.Select(m => Figure(again, m).ToJsonString()));
        Assert.Equal(59, Figure(again, "notices.issued")["value"]!.GetValue<long>());
        var atLater = await reader.GetJsonAsync(url + "&asOf=" + Uri.EscapeDataString(later["asOf"]!.GetValue<string>()));
        Assert.Equal(later["digest"]!.GetValue<string>(), atLater["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_report_at_an_earlier_instant_keeps_its_catalog_through_deactivation_addition_and_renaming()
    {
        // Its own app: the test changes seeded metrics, which other tests on the shared app read.
        await using var own = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using var writer = await own.ClientWithAsync(["events:write"]);
        using var reader = await own.ClientWithAsync(["totals:read"]);
        using var admin = own.Admin();
        await writer.RecordAsync("notices.issued", "2024-03-01", 12, "hedong");
        await writer.RecordAsync("websites.cleaned", "2024-04-01", 105, "hedong", new { category = "gambling" });
        const string url = "/api/v1/reports/annual/2024?orgUnit=hedong";
        var published = await reader.GetJsonAsync(url);
        var atPublished = url + "&asOf=" + Uri.EscapeDataString(published["asOf"]!.GetValue<string>());
        var publishedMarkdown = await reader.GetStringAsync(atPublished + "&format=markdown", Ct);
        Assert.Contains("下发问题提示单12次", publishedMarkdown, StringComparison.Ordinal);

        async Task PutMetricAsync(string code, object body) =>
            Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync($"/api/v1/metrics/{code}", body, Ct)).StatusCode);
        await PutMetricAsync("notices.issued", new { name = "下发问题提示单", unit = "次", reportTemplate = "下发问题提示单{value}次", active = false });
        await PutMetricAsync("websites.cleaned", new
        {
            name = "清理违法网站", unit = "家", reportTemplate = "清理违法违规网站{value}家",
            dimensions = new[] { new { key = "category", values = new[] { "pornography", "gambling" } } },
        });
        var added = Unique.Code("added");
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/metrics",
            new { code = added, name = "新增指标", unit = "个", reportTemplate = "新增{value}个" }, Ct)).StatusCode);

        // The changes hold now...
        var now = await reader.GetJsonAsync(url);
        var nowCodes = now["figures"]!.AsArray().Select(f => f!["metric"]!.GetValue<string>()).ToList();
        Assert.DoesNotContain("notices.issued", nowCodes);
        Assert.Contains(added, nowCodes);
        Assert.Equal("清理违法违规网站105家", Figure(now, "websites.cleaned")["sentence"]!.GetValue<string>());
        Assert.NotEqual(published["digest"]!.GetValue<string>(), now["digest"]!.GetValue<string>());

        // ...and the published instant gives the published report, figure for figure, sentence for sentence.
        var again = await reader.GetJsonAsync(atPublished);
        Assert.Equal(published["figures"]!.ToJsonString(), again["figures"]!.ToJsonString());
        Assert.Equal(published["digest"]!.GetValue<string>(), again["digest"]!.GetValue<string>());
        Assert.Equal(publishedMarkdown, await reader.GetStringAsync(atPublished + "&format=markdown", Ct));
    }

    /// <summary>Sums per metric as CONTRACT.md defines them, recomputed from the stored events (metrics with events only).</summary>
    private Dictionary<string, (long Value, long Events)> ExpectedSums(string orgUnit, string asOf)
    {
        using var db = app.OpenDatabase();
        return db.Query<(string Metric, long Value, long Events)>(
            """
            SELECT e.metric, sum(e.quantity), count(*) FROM events e JOIN metrics m ON m.code = e.metric AND m.active = 1
            WHERE e.org_unit IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @orgUnit)
              AND e.occurred_on BETWEEN '2024-01-01' AND '2024-12-31'
              AND e.recorded_at <= @asOf AND (e.voided_at IS NULL OR e.voided_at > @asOf)
            GROUP BY e.metric
            """, new { orgUnit, asOf = StorageInstant(asOf) }).ToDictionary(r => r.Metric, r => (r.Value, r.Events));
    }

    private void AssertReportEqualsTheLedger(JsonNode report, string orgUnit)
    {
        var asOf = report["asOf"]!.GetValue<string>();
        Assert.Equal(ExpectedDigest(orgUnit, asOf), report["digest"]!.GetValue<string>());
        var expected = ExpectedSums(orgUnit, asOf);
        foreach (var figure in report["figures"]!.AsArray())
        {
            var (value, events) = expected.GetValueOrDefault(figure!["metric"]!.GetValue<string>());
            Assert.Equal(value, figure["value"]!.GetValue<long>());
            Assert.Equal(events, figure["events"]!.GetValue<long>());
        }
    }

    [Fact]
    public async Task Reports_asked_again_and_again_follow_every_write_void_supersession_and_move_exactly()
    {
        // The report of "now" is kept and brought forward between asks; each answer must still equal the ledger at its asOf.
        var unit = await app.OrgUnitAsync();
        var child = await app.OrgUnitAsync(unit);
        var elsewhere = await app.OrgUnitAsync();
        using var admin = app.Admin();
        using var writer = await app.ClientWithAsync(["events:write"]);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var url = $"/api/v1/reports/annual/2024?orgUnit={unit}";
        var random = new Random(2024);
        var recorded = new List<string>();
        string[] metrics = ["outreach.sessions", "leads.handled", "notices.issued", "reports.tianjin"];
        string[] units = [unit, child, elsewhere];
        for (var round = 0; round < 40; round++)
        {
            switch (random.Next(10))
            {
                case < 5:
                    recorded.Add(await writer.RecordAsync(metrics[random.Next(metrics.Length)],
                        random.Next(4) == 0 ? "2023-12-31" : $"2024-{random.Next(1, 13):00}-{random.Next(1, 29):00}",
                        random.Next(1, 100_000), units[random.Next(units.Length)]));
                    break;
                case 5 or 6 when recorded.Count > 0:
                    var victim = recorded[random.Next(recorded.Count)];
                    recorded.Remove(victim);
                    await app.VoidAsync(victim);
                    break;
                case 7 when recorded.Count > 0:
                    var old = recorded[random.Next(recorded.Count)];
                    recorded.Remove(old);
                    recorded.Add((await app.SupersedeAsync(old, random.Next(1, 1000))).Id);
                    break;
                case 8:
                    // Moving the child out of the unit (and back) changes which events the unit's report counts.
                    var parent = round % 2 == 0 ? elsewhere : unit;
                    Assert.Equal(HttpStatusCode.OK,
                        (await admin.PutAsJsonAsync($"/api/v1/org-units/{child}", new { name = "测试单位 " + child, parent }, Ct)).StatusCode);
                    break;
                default:
                    break;
            }
            AssertReportEqualsTheLedger(await reader.GetJsonAsync(url), unit);
        }
    }

    [Fact]
    public async Task Reports_asked_while_events_are_written_and_voided_equal_the_ledger_at_their_instant()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        using var stop = new CancellationTokenSource();
        var writing = Task.Run(async () =>
        {
            var random = new Random(7);
            var ids = new List<string>();
            while (!stop.IsCancellationRequested)
            {
                ids.Add(await writer.RecordAsync("leads.handled", $"2024-03-{random.Next(1, 29):00}", random.Next(1, 50), unit));
                if (random.Next(5) == 0)
                {
                    var victim = ids[random.Next(ids.Count)];
                    ids.Remove(victim);
                    await app.VoidAsync(victim);
                }
            }
        }, Ct);

        var reports = new List<JsonNode>();
        for (var i = 0; i < 30; i++)
            reports.Add(await reader.GetJsonAsync($"/api/v1/reports/annual/2024?orgUnit={unit}"));
        await stop.CancelAsync();
        await writing;

        Assert.Contains(reports, r => Figure(r, "leads.handled")["events"]!.GetValue<long>() > 0);
        foreach (var report in reports)
            AssertReportEqualsTheLedger(report, unit);
    }

    [Fact]
    public async Task A_superseded_figure_stays_reproducible_at_its_instant()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var url = $"/api/v1/reports/annual/2024?orgUnit={unit}";
        var id = await writer.RecordAsync("reports.political", "2024-03-01", 52_000, unit);
        var before = await reader.GetJsonAsync(url);
        await app.SupersedeAsync(id, 52_348);
        var after = await reader.GetJsonAsync(url);

        Assert.Equal("5.2万", Figure(before, "reports.political")["display"]!.GetValue<string>());
        Assert.Equal(52_348, Figure(after, "reports.political")["value"]!.GetValue<long>());
        Assert.NotEqual(before["digest"]!.GetValue<string>(), after["digest"]!.GetValue<string>());
        var replayed = await reader.GetJsonAsync(url + "&asOf=" + Uri.EscapeDataString(before["asOf"]!.GetValue<string>()));
        Assert.Equal(52_000, Figure(replayed, "reports.political")["value"]!.GetValue<long>());
        Assert.Equal(before["digest"]!.GetValue<string>(), replayed["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task Markdown_comes_with_Accept_or_format_with_title_sentences_and_footer()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        await writer.RecordAsync("accounts.interviewed", "2024-08-08", 44, unit);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var json = await reader.GetJsonAsync($"/api/v1/reports/annual/2024?orgUnit={unit}");
        var asOf = Uri.EscapeDataString(json["asOf"]!.GetValue<string>());

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/reports/annual/2024?orgUnit={unit}&asOf={asOf}");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/markdown"));
        var byAccept = await reader.SendAsync(request, Ct);
        var byFormat = await reader.GetAsync($"/api/v1/reports/annual/2024?orgUnit={unit}&asOf={asOf}&format=markdown", Ct);

        foreach (var response in new[] { byAccept, byFormat })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/markdown", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("utf-8", response.Content.Headers.ContentType?.CharSet);
            var text = await response.Content.ReadAsStringAsync(Ct);
            var lines = text.Split('\n');
            Assert.Equal($"# 测试单位 {unit}2024年度工作数据", lines[0]);
            Assert.Contains("1. 开展网络举报主题宣传进机关、进社区、进企业、进商圈等活动0次。", lines);
            Assert.Contains("7. 约谈自媒体账号44个。", lines);
            // The as-of instant in office time (Asia/Shanghai by default), as people read it.
            var local = TimeZoneInfo.ConvertTime(DateTimeOffset.Parse(json["asOf"]!.GetValue<string>(), CultureInfo.InvariantCulture),
                TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai"));
            Assert.Contains(lines, l => l.StartsWith("数据截至 ", StringComparison.Ordinal)
                && l.Contains(local.ToString("yyyy年M月d日 HH:mm（北京时间）", CultureInfo.InvariantCulture), StringComparison.Ordinal)
                && l.Contains(json["digest"]!.GetValue<string>(), StringComparison.Ordinal));
            Assert.Equal(json["figures"]!.AsArray().Count, lines.Count(l => l.Length > 0 && char.IsAsciiDigit(l[0])));
        }
        Assert.Contains("Accept", byAccept.Headers.Vary);

        using var jsonPreferred = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/reports/annual/2024?orgUnit={unit}");
        jsonPreferred.Headers.Accept.ParseAdd("application/json, text/markdown;q=0.5");
        Assert.Equal("application/json", (await reader.SendAsync(jsonPreferred, Ct)).Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_bound_key_reports_on_its_own_unit_by_default_and_not_outside_it()
    {
        var unit = await app.OrgUnitAsync();
        var other = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        await writer.RecordAsync("websites.deregistered", "2024-01-09", 344, unit);
        await writer.RecordAsync("websites.deregistered", "2024-01-09", 1, other);
        using var bound = await app.ClientWithAsync(["totals:read"], orgUnit: unit);

        var report = await bound.GetJsonAsync("/api/v1/reports/annual/2024");
        Assert.Equal(unit, report["orgUnit"]!.GetValue<string>());
        Assert.Equal("推动注销违规网站344家", Figure(report, "websites.deregistered")["sentence"]!.GetValue<string>());
        await (await bound.GetAsync($"/api/v1/reports/annual/2024?orgUnit={other}", Ct)).AssertProblemAsync(403, "/problems/forbidden");
        await (await bound.GetAsync("/api/v1/reports/annual/2024?orgUnit=hedong", Ct)).AssertProblemAsync(403, "/problems/forbidden");
    }

    [Fact]
    public async Task An_unbound_key_without_orgUnit_reports_on_the_whole_tree()
    {
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var report = await reader.GetJsonAsync("/api/v1/reports/annual/2024");
        Assert.True(report.AsObject().ContainsKey("orgUnit"));
        Assert.Null(report["orgUnit"]);
        var markdown = await reader.GetStringAsync("/api/v1/reports/annual/2024?format=markdown", Ct);
        Assert.StartsWith("# 全部单位2024年度工作数据\n", markdown, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1999", "year")]
    [InlineData("10000", "year")]
    [InlineData("abc", "year")]
    [InlineData("99999999999", "year")]
    [InlineData("2024?format=pdf", "format")]
    [InlineData("2024?orgUnit=nowhere", "orgUnit")]
    [InlineData("2024?asOf=2999-01-01T00:00:00Z", "asOf")]
    [InlineData("2024?asOf=2024-01-01", "asOf")]
    public async Task Invalid_requests_are_400_naming_the_parameter(string path, string field)
    {
        using var reader = await app.ClientWithAsync(["totals:read"]);
        await (await reader.GetAsync("/api/v1/reports/annual/" + path, Ct)).AssertValidationAsync(field);
    }

    [Fact]
    public async Task A_year_with_no_events_says_so_in_json_and_markdown_instead_of_passing_zeros_as_a_report()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        await writer.RecordAsync("notices.issued", "2024-03-03", 2, unit);
        using var reader = await app.ClientWithAsync(["totals:read"]);

        // 2042: a mistyped year with nothing in it.
        var empty = await reader.GetJsonAsync($"/api/v1/reports/annual/2042?orgUnit={unit}");
        Assert.All(empty["figures"]!.AsArray(), f => Assert.Equal(0, f!["value"]!.GetValue<long>()));
        Assert.Contains("Nothing was recorded for 2042", empty["warning"]!.GetValue<string>(), StringComparison.Ordinal);
        reader.DefaultRequestHeaders.AcceptLanguage.Clear();
        reader.DefaultRequestHeaders.AcceptLanguage.ParseAdd("zh-CN");
        var chinese = await reader.GetJsonAsync($"/api/v1/reports/annual/2042?orgUnit={unit}");
        Assert.Contains("2042年没有任何记录", chinese["warning"]!.GetValue<string>(), StringComparison.Ordinal);
        var markdown = await reader.GetStringAsync($"/api/v1/reports/annual/2042?orgUnit={unit}&format=markdown", Ct);
        Assert.Contains("\n**该年度没有任何记录**", markdown, StringComparison.Ordinal);

        // The year that has the event: no warning, and no such line.
        var real = await reader.GetJsonAsync($"/api/v1/reports/annual/2024?orgUnit={unit}");
        Assert.Null(real["warning"]);
        Assert.DoesNotContain("没有任何记录",
            await reader.GetStringAsync($"/api/v1/reports/annual/2024?orgUnit={unit}&format=markdown", Ct), StringComparison.Ordinal);
    }
}
