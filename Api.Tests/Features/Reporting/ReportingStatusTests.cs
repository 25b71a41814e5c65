using System.Net;
using System.Net.Http.Json;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Reporting;

public sealed class ReportingStatusTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Status_counts_each_reporters_own_events_of_every_plan_metric_in_the_period()
    {
        var district = await app.OrgUnitAsync();
        var (full, half, none) = (await app.OrgUnitAsync(district), await app.OrgUnitAsync(district), await app.OrgUnitAsync(district));
        var belowFull = await app.OrgUnitAsync(full);
        var plan = await app.PlanAsync(["notices.issued", "accounts.interviewed"], [full, half, none], dueDays: 10);
        using var writer = await app.ClientWithAsync(["events:write"]);
        // Many events of one metric must not count as more than one metric, nor a unit as more than one reporter.
        foreach (var day in new[] { "2025-01-05", "2025-02-05", "2025-02-06", "2025-03-31" })
            await writer.RecordAsync("notices.issued", day, 3, full);
        var interview = await writer.RecordAsync("accounts.interviewed", "2025-03-01", 1, full);
        await writer.RecordAsync("notices.issued", "2025-02-01", 1, half);
        // Not the period, not a reporter, not the unit itself: none of these count.
        await writer.RecordAsync("accounts.interviewed", "2025-04-01", 1, half);
        await writer.RecordAsync("accounts.interviewed", "2025-02-01", 1, district);
        await writer.RecordAsync("accounts.interviewed", "2025-02-01", 1, belowFull);
        await writer.RecordAsync("notices.issued", "2025-02-01", 1, belowFull);
        await writer.RecordAsync("websites.deregistered", "2025-02-01", 1, half);

        using var reader = await app.ClientWithAsync(["totals:read"]);
        var status = await reader.StatusAsync(plan, "2025-Q1");

        Assert.Equal("2025-Q1", status["period"]!.GetValue<string>());
        Assert.Equal("2025-04-10", status["dueOn"]!.GetValue<string>());
        Assert.Equal([full, half, none], status["units"]!.AsArray().Select(u => u!["orgUnit"]!.GetValue<string>()));
        var fullRow = status.Unit(full);
        Assert.Equal("reported", fullRow["state"]!.GetValue<string>());
        Assert.Equal(2, fullRow["metricsReported"]!.GetValue<int>());
        Assert.Equal(2, fullRow["metricsExpected"]!.GetValue<int>());
        Assert.NotNull(fullRow["lastRecordedAt"]);
        // Recorded today, long after 2025-04-10: late.
        Assert.False(fullRow["onTime"]!.GetValue<bool>());
        Assert.Equal("missing", status.Unit(half)["state"]!.GetValue<string>());
        Assert.Equal(1, status.Unit(half)["metricsReported"]!.GetValue<int>());
        Assert.Equal(0, status.Unit(none)["metricsReported"]!.GetValue<int>());
        Assert.Null(status.Unit(none)["lastRecordedAt"]);
        Assert.False(status.Unit(none)["onTime"]!.GetValue<bool>());
        var summary = status["summary"]!;
        Assert.Equal(3, summary["expected"]!.GetValue<int>());
        Assert.Equal(1, summary["reported"]!.GetValue<int>());
        Assert.Equal(0, summary["onTime"]!.GetValue<int>());
        Assert.Equal(0.3333, summary["rate"]!.GetValue<double>(), 4);
        Assert.Equal(0, summary["onTimeRate"]!.GetValue<double>());

        // A void that takes away the only event of a metric makes the unit missing again.
        using var admin = app.Admin();
        var voided = await admin.PostAsJsonAsync($"/api/v1/events/{interview}/void", new { reason = "录入错误" }, Ct);
        Assert.Equal(HttpStatusCode.OK, voided.StatusCode);
        var after = await reader.StatusAsync(plan, "2025-Q1");
        Assert.Equal("missing", after.Unit(full)["state"]!.GetValue<string>());
        Assert.Equal(1, after.Unit(full)["metricsReported"]!.GetValue<int>());
        Assert.Equal(0, after["summary"]!["reported"]!.GetValue<int>());
    }

    [Fact]
    public async Task Rates_never_exceed_one_whatever_a_unit_records_or_submits()
    {
        var district = await app.OrgUnitAsync();
        var (a, b) = (await app.OrgUnitAsync(district), await app.OrgUnitAsync(district));
        var year = DateTime.UtcNow.Year;
        var plan = await app.PlanAsync(["notices.issued"], [a, b], frequency: "year", dueDays: 366, startsOn: $"{year}-01-01");
        using var writer = await app.ClientWithAsync(["events:write"]);
        for (var i = 0; i < 5; i++)
            await writer.RecordAsync("notices.issued", $"{year}-01-01", 1, a);
        await writer.RecordAsync("notices.issued", $"{year}-01-01", 1, b);
        await writer.SubmittedAsync(plan, $"{year}", a);

        using var reader = await app.ClientWithAsync(["totals:read"]);
        var status = await reader.StatusAsync(plan, $"{year}");

        var summary = status["summary"]!;
        Assert.Equal(2, summary["expected"]!.GetValue<int>());
        Assert.Equal(2, summary["reported"]!.GetValue<int>());
        Assert.Equal(2, summary["onTime"]!.GetValue<int>());
        Assert.Equal(1, summary["submitted"]!.GetValue<int>());
        Assert.Equal(1.0, summary["rate"]!.GetValue<double>());
        Assert.Equal(1.0, summary["onTimeRate"]!.GetValue<double>());
        Assert.True(status.Unit(a)["onTime"]!.GetValue<bool>());
        Assert.Equal("submitted", status.Unit(a)["state"]!.GetValue<string>());
        Assert.NotNull(status.Unit(a)["submittedAt"]);
    }

    [Fact]
    public async Task A_unit_with_nothing_to_report_reports_by_submitting_and_is_undecided_before_the_due_day()
    {
        var district = await app.OrgUnitAsync();
        var (quiet, pending) = (await app.OrgUnitAsync(district), await app.OrgUnitAsync(district));
        var year = DateTime.UtcNow.Year;
        var plan = await app.PlanAsync(["notices.issued", "websites.deregistered"], [quiet, pending], frequency: "year",
            dueDays: 366, startsOn: $"{year}-01-01");
        using var writer = await app.ClientWithAsync(["events:write"]);
        await writer.SubmittedAsync(plan, $"{year}", quiet);

        using var reader = await app.ClientWithAsync(["totals:read"]);
        var status = await reader.StatusAsync(plan, $"{year}");

        Assert.Equal("submitted", status.Unit(quiet)["state"]!.GetValue<string>());
        Assert.Equal(0, status.Unit(quiet)["metricsReported"]!.GetValue<int>());
        Assert.True(status.Unit(quiet)["onTime"]!.GetValue<bool>());
        Assert.Equal("missing", status.Unit(pending)["state"]!.GetValue<string>());
        Assert.Null(status.Unit(pending)["onTime"]);
        Assert.Equal(0.5, status["summary"]!["rate"]!.GetValue<double>());
    }

    [Fact]
    public async Task A_bound_key_sees_its_own_subtrees_reporters_and_nothing_outside()
    {
        var (east, west) = (await app.OrgUnitAsync(), await app.OrgUnitAsync());
        var (eastStreet, westStreet) = (await app.OrgUnitAsync(east), await app.OrgUnitAsync(west));
        var plan = await app.PlanAsync(["notices.issued"], [east, eastStreet, west, westStreet]);
        using var bound = await app.ClientWithAsync(["totals:read"], orgUnit: east);

        var status = await bound.StatusAsync(plan, "2025-Q1");
        Assert.Equal([east, eastStreet], status["units"]!.AsArray().Select(u => u!["orgUnit"]!.GetValue<string>()));
        Assert.Equal(2, status["summary"]!["expected"]!.GetValue<int>());
        var streetOnly = await bound.StatusAsync(plan, "2025-Q1", eastStreet);
        Assert.Equal([eastStreet], streetOnly["units"]!.AsArray().Select(u => u!["orgUnit"]!.GetValue<string>()));

        await (await bound.GetAsync($"/api/v1/reporting/status?plan={plan}&period=2025-Q1&orgUnit={west}", Ct))
            .AssertProblemAsync(403, "/problems/forbidden");
        var listed = await bound.GetJsonAsync($"/api/v1/reporting/submissions?plan={plan}");
        Assert.Empty(listed["items"]!.AsArray());
    }

    [Theory]
    [InlineData("2025-07", "period")]
    [InlineData("2025Q1", "period")]
    [InlineData("2024-Q4", "period")]
    [InlineData("2025-Q5", "period")]
    public async Task Status_refuses_a_period_the_plan_does_not_have(string period, string field)
    {
        var street = await app.OrgUnitAsync();
        var plan = await app.PlanAsync(["notices.issued"], [street], endsOn: "2025-12-31");
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var response = await reader.GetAsync($"/api/v1/reporting/status?plan={plan}&period={period}", Ct);
        var problem = await response.AssertProblemAsync(400, "/problems/validation");
        Assert.NotNull(problem["errors"]![field]);
        await (await reader.GetAsync("/api/v1/reporting/status?plan=no-such-plan&period=2025-Q1", Ct))
            .AssertProblemAsync(404, "/problems/not-found");
        await (await reader.GetAsync($"/api/v1/reporting/status?plan={plan}&period=2026-Q1", Ct))
            .AssertProblemAsync(400, "/problems/validation");
    }

    [Fact]
    public async Task Status_says_how_the_plan_writes_its_periods()
    {
        var street = await app.OrgUnitAsync();
        var plan = await app.PlanAsync(["notices.issued"], [street]);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var english = await (await reader.GetAsync($"/api/v1/reporting/status?plan={plan}&period=2025-07", Ct))
            .AssertProblemAsync(400, "/problems/validation");
        Assert.Contains("quarterly", english["errors"]!["period"]![0]!.GetValue<string>(), StringComparison.Ordinal);

        reader.DefaultRequestHeaders.AcceptLanguage.Clear();
        reader.DefaultRequestHeaders.AcceptLanguage.ParseAdd("zh-CN");
        var chinese = await (await reader.GetAsync($"/api/v1/reporting/status?plan={plan}&period=2025-07", Ct))
            .AssertProblemAsync(400, "/problems/validation");
        Assert.Contains("季度", chinese["errors"]!["period"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }
}
