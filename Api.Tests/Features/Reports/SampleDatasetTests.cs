using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Tally.Api.Tests.Infrastructure;
using Tally.Api.Tests.OpenApi;

namespace Tally.Api.Tests.Features.Reports;

/// <summary>
/// Api.Tests/Data/hedong-2024.json (a POST /events/batch body, which the README loads) reproduces the figures of
/// 河东区网信办's 2024 report. Loaded here one event at a time, in parallel, into an app of its own.
/// </summary>
[Collection(nameof(SeparateApps))]
public sealed class SampleDatasetTests(SeparateTallyApp separate) : IClassFixture<SeparateTallyApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The sentences the report should produce; "verbatim" ones appear word for word in the seed report.</summary>
    private static readonly (string Metric, long Value, string Display, string Sentence, bool Verbatim)[] Expected =
    [
        ("outreach.sessions", 152, "152", "开展网络举报主题宣传进机关、进社区、进企业、进商圈等活动152次", false),
        ("campaign.actions", 43, "40余", "深入开展“清朗”“净网”等专项行动40余次", true),
        ("leads.handled", 2, "2", "及时联动处置网站侵权、网络诈骗等问题线索2起", true),
        ("notices.issued", 59, "59", "下发问题提示单59次", true),
        ("websites.cleaned", 105, "105", "累计清理涉黄涉赌网站105家", true),
        ("websites.deregistered", 344, "344", "推动注销违规网站344家", true),
        ("accounts.interviewed", 44, "44", "约谈自媒体账号44个", false),
        ("reports.political", 52_348, "5.2万", "举报初心、涉政类有害信息5.2万条", true),
        ("reports.tianjin", 86_112, "8.6万", "举报涉津有害信息及敏感线索8.6万条", true),
    ];

    /// <summary>The passages of the seed report that quote these figures (hedong-2024-rule-of-law-report.txt).</summary>
    private const string SeedReport =
        "深入开展“清朗”“净网”等专项行动40余次,合力解决涉区事件、涉区主体网络违规问题,及时联动处置网站侵权、网络诈骗等问题线索2起。"
        + "坚持“高标准”“零容忍”,今年以来,下发问题提示单59次,明确整改时限,联合相关单位对网络乱象“出重拳”“亮利剑”,"
        + "累计清理涉黄涉赌网站105家,推动注销违规网站344家,确保属地网站平台管理有序。"
        + "全年累计举报初心、涉政类有害信息5.2万条,举报涉津有害信息及敏感线索8.6万条。";

    [Fact]
    public async Task The_sample_2024_data_reproduces_the_seed_report_figures_in_its_wording()
    {
        var app = separate.App;
        var path = Path.Combine(OpenApiDocumentTests.RepoRoot(), "Api.Tests", "Data", "hedong-2024.json");
        var events = JsonNode.Parse(await File.ReadAllTextAsync(path, Ct))!["events"]!.AsArray();
        Assert.InRange(events.Count, 100, 10_000); // one batch
        using var writer = await app.ClientWithAsync(["events:write"], source: "sample-loader");
        await Parallel.ForEachAsync(events, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = Ct }, async (item, ct) =>
        {
            var response = await writer.PostAsync("/api/v1/events",
                new StringContent(item!.ToJsonString(), Encoding.UTF8, "application/json"), ct);
            Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(ct));
        });

        using var reader = await app.ClientWithAsync(["totals:read"]);
        var report = await reader.GetJsonAsync("/api/v1/reports/annual/2024?orgUnit=hedong");
        var figures = report["figures"]!.AsArray();
        Assert.Equal(Expected.Length, figures.Count);
        foreach (var (expected, figure) in Expected.Zip(figures))
        {
            Assert.Equal(expected.Metric, figure!["metric"]!.GetValue<string>());
            Assert.Equal(expected.Value, figure["value"]!.GetValue<long>());
            Assert.Equal(expected.Display, figure["display"]!.GetValue<string>());
            Assert.Equal(expected.Sentence, figure["sentence"]!.GetValue<string>());
            if (expected.Verbatim)
                Assert.Contains(expected.Sentence, SeedReport, StringComparison.Ordinal);
        }
        Assert.Equal(events.Count, figures.Sum(f => f!["events"]!.GetValue<long>()));

        var markdown = await reader.GetStringAsync("/api/v1/reports/annual/2024?orgUnit=hedong&format=markdown", Ct);
        Assert.StartsWith("# 河东区2024年度工作数据\n", markdown, StringComparison.Ordinal);
        foreach (var expected in Expected)
            Assert.Contains(expected.Sentence + "。", markdown, StringComparison.Ordinal);

        // The dimensions split the figures the way the source systems reported them.
        var byVenue = await reader.GetJsonAsync("/api/v1/totals?year=2024&orgUnit=hedong&metric=outreach.sessions&groupBy=dim.venue");
        Assert.Equal(4, byVenue["rows"]!.AsArray().Count);
        Assert.Equal(152, byVenue["rows"]!.AsArray().Sum(r => r!["value"]!.GetValue<long>()));
        var byMonth = await reader.GetJsonAsync("/api/v1/totals?year=2024&orgUnit=hedong&groupBy=month");
        Assert.All(Expected.Where(e => e.Metric != "leads.handled"), e =>
            Assert.Equal(12, byMonth["rows"]!.AsArray().Count(r => r!["metric"]!.GetValue<string>() == e.Metric)));
    }
}
