using System.Net;
using System.Net.Http.Json;
using Tally.Api.Tests.Infrastructure;
using Tally.Api.Tests.OpenApi;

namespace Tally.Api.Tests.Features.Reporting;

/// <summary>The README's quarter: three sample streets under hedong, a quarterly plan, one approved, one returned, one late.</summary>
[Collection(nameof(SeparateApps))]
public sealed class SampleReportingTests(SeparateTallyApp separate) : IClassFixture<SeparateTallyApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private TallyApp App => separate.App;

    [Fact]
    public async Task The_readme_quarter_shows_one_street_approved_one_returned_and_one_late()
    {
        using var admin = App.Admin();
        foreach (var (code, name) in new[] { ("dawangzhuang", "大王庄街道"), ("tangjiakou", "唐家口街道"), ("chunhua", "春华街道") })
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/org-units",
                new { code = "hedong." + code, name, parent = "hedong" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/v1/reporting/plans", new
        {
            code = "streets-quarterly", name = "街道季度报送", metrics = new[] { "outreach.sessions", "notices.issued" },
            frequency = "quarter", dueDays = 10, startsOn = "2025-01-01",
            reporters = new[] { "hedong.dawangzhuang", "hedong.tangjiakou", "hedong.chunhua" },
        }, Ct)).StatusCode);
        var batch = await File.ReadAllTextAsync(
            Path.Combine(OpenApiDocumentTests.RepoRoot(), "Api.Tests", "Data", "hedong-streets-2025q1.json"), Ct);
        Assert.Equal(HttpStatusCode.OK, (await admin.PostJsonAsync("/api/v1/events/batch", batch)).StatusCode);

        using var dawangzhuang = await App.ClientWithAsync(["events:write"], "hedong.dawangzhuang", "dawangzhuang");
        using var tangjiakou = await App.ClientWithAsync(["events:write"], "hedong.tangjiakou", "tangjiakou");
        using var hedong = await App.ClientWithAsync(["reports:approve"], "hedong", "hedong-approver");
        var a = (await dawangzhuang.SubmittedAsync("streets-quarterly", "2025-Q1", "hedong.dawangzhuang"))["id"]!.GetValue<string>();
        var b = (await tangjiakou.SubmittedAsync("streets-quarterly", "2025-Q1", "hedong.tangjiakou"))["id"]!.GetValue<string>();
        await (await dawangzhuang.PostAsJsonAsync("/api/v1/events",
                new { metric = "notices.issued", occurredOn = "2025-03-01", quantity = 1, orgUnit = "hedong.dawangzhuang" }, Ct))
            .AssertProblemAsync(409, "/problems/period-submitted");
        Assert.Equal(HttpStatusCode.OK, (await hedong.ApproveAsync(a)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await hedong.ReturnAsync(b, "提示单数量与台账不符，请核实后重报")).StatusCode);

        var status = await admin.StatusAsync("streets-quarterly", "2025-Q1");
        Assert.Equal("2025-04-10", status["dueOn"]!.GetValue<string>());
        Assert.Equal("2025-04-10T16:00:00Z", status["dueBy"]!.GetValue<string>());
        var summary = status["summary"]!;
        Assert.Equal((3, 2, 0, 1, 1), (summary["expected"]!.GetValue<int>(), summary["reported"]!.GetValue<int>(),
            summary["onTime"]!.GetValue<int>(), summary["submitted"]!.GetValue<int>(), summary["approved"]!.GetValue<int>()));
        Assert.Equal(0.6667, summary["rate"]!.GetValue<double>());
        Assert.Equal("approved", status.Unit("hedong.dawangzhuang")["state"]!.GetValue<string>());
        Assert.Equal("returned", status.Unit("hedong.tangjiakou")["state"]!.GetValue<string>());
        Assert.Equal("提示单数量与台账不符，请核实后重报", status.Unit("hedong.tangjiakou")["returnReason"]!.GetValue<string>());
        var chunhua = status.Unit("hedong.chunhua");
        Assert.Equal(("missing", 1, 2, false), (chunhua["state"]!.GetValue<string>(), chunhua["metricsReported"]!.GetValue<int>(),
            chunhua["metricsExpected"]!.GetValue<int>(), chunhua["onTime"]!.GetValue<bool>()));

        var all = await admin.GetJsonAsync("/api/v1/totals?year=2025&orgUnit=hedong&metric=outreach.sessions");
        var signed = await admin.GetJsonAsync("/api/v1/totals?year=2025&orgUnit=hedong&metric=outreach.sessions&approvedOnly=true");
        Assert.Equal(11, all["rows"]![0]!["value"]!.GetValue<long>());
        Assert.Equal(5, signed["rows"]![0]!["value"]!.GetValue<long>());

    }
}
