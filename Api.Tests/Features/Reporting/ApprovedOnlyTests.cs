using System.Net;
using System.Text.Json.Nodes;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Reporting;

/// <summary>approvedOnly=true on totals and the annual report: only (unit, plan metric, period) cells of approved submissions count.</summary>
public sealed class ApprovedOnlyTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static long Value(JsonNode totals, string metric) =>
        totals["rows"]!.AsArray().Where(r => r!["metric"]!.GetValue<string>() == metric).Sum(r => r!["value"]!.GetValue<long>());

    private static long Figure(JsonNode report, string metric) =>
        report["figures"]!.AsArray().Single(f => f!["metric"]!.GetValue<string>() == metric)!["value"]!.GetValue<long>();

    [Fact]
    public async Task Totals_and_the_annual_report_count_only_approved_cells_when_asked()
    {
        var district = await app.OrgUnitAsync();
        var (approved, submitted, silent) = (await app.OrgUnitAsync(district), await app.OrgUnitAsync(district), await app.OrgUnitAsync(district));
        var plan = await app.PlanAsync(["notices.issued"], [approved, submitted, silent]);
        using var writer = await app.ClientWithAsync(["events:write"]);
        await writer.RecordAsync("notices.issued", "2025-02-05", 5, approved);
        await writer.RecordAsync("notices.issued", "2025-02-20", 7, submitted);
        await writer.RecordAsync("notices.issued", "2025-02-05", 11, silent);
        await writer.RecordAsync("accounts.interviewed", "2025-02-05", 3, approved); // not a plan metric
        await writer.RecordAsync("notices.issued", "2025-05-05", 13, approved);      // not the approved period
        var id = (await writer.SubmittedAsync(plan, "2025-Q1", approved))["id"]!.GetValue<string>();
        await writer.SubmittedAsync(plan, "2025-Q1", submitted);
        using (var approver = await app.ClientWithAsync(["reports:approve"], orgUnit: district))
            Assert.Equal(HttpStatusCode.OK, (await approver.ApproveAsync(id)).StatusCode);

        using var reader = await app.ClientWithAsync(["totals:read"]);
        var all = await reader.GetJsonAsync($"/api/v1/totals?year=2025&orgUnit={district}");
        var signed = await reader.GetJsonAsync($"/api/v1/totals?year=2025&orgUnit={district}&approvedOnly=true");
        Assert.Equal(36, Value(all, "notices.issued"));
        Assert.Equal(5, Value(signed, "notices.issued"));
        Assert.Equal(0, Value(signed, "accounts.interviewed"));

        // Partial months (daily rollups), grouped rows, and the raw ledger (asOf) agree.
        var days = await reader.GetJsonAsync($"/api/v1/totals?from=2025-02-01&to=2025-02-10&orgUnit={district}&approvedOnly=true&metric=notices.issued");
        Assert.Equal(5, Value(days, "notices.issued"));
        var byUnit = await reader.GetJsonAsync($"/api/v1/totals?year=2025&orgUnit={district}&approvedOnly=true&metric=notices.issued&groupBy=orgUnit,month");
        var row = Assert.Single(byUnit["rows"]!.AsArray());
        Assert.Equal(approved, row!["orgUnit"]!.GetValue<string>());
        Assert.Equal("2025-02", row["month"]!.GetValue<string>());
        var asOf = Uri.EscapeDataString(DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", System.Globalization.CultureInfo.InvariantCulture));
        var then = await reader.GetJsonAsync($"/api/v1/totals?year=2025&orgUnit={district}&approvedOnly=true&asOf={asOf}");
        Assert.Equal(5, Value(then, "notices.issued"));
        var beforeApproval = await reader.GetJsonAsync($"/api/v1/totals?year=2025&orgUnit={district}&approvedOnly=true&asOf=2025-01-01T00:00:00Z");
        Assert.Equal(0, Value(beforeApproval, "notices.issued"));

        var report = await reader.GetJsonAsync($"/api/v1/reports/annual/2025?orgUnit={district}");
        var signedReport = await reader.GetJsonAsync($"/api/v1/reports/annual/2025?orgUnit={district}&approvedOnly=true");
        Assert.Equal(36, Figure(report, "notices.issued"));
        Assert.Equal(5, Figure(signedReport, "notices.issued"));
        Assert.Equal(0, Figure(signedReport, "accounts.interviewed"));
        Assert.NotEqual(report["digest"]!.GetValue<string>(), signedReport["digest"]!.GetValue<string>());
        Assert.Contains("5次", (await reader.GetStringAsync(
            $"/api/v1/reports/annual/2025?orgUnit={district}&approvedOnly=true&format=markdown", Ct)), StringComparison.Ordinal);
    }
}
