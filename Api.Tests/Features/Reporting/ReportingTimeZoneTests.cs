using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Reporting;

/// <summary>
/// "On time" is by the end of the due day in the office's time zone: with a due day of 2025-04-10, 15:59:59Z is still
/// 23:59:59 of that day in Beijing and 16:00:00Z is already the next day; in an office on UTC both are on time.
/// </summary>
[Collection(nameof(SeparateApps))]
public sealed class ReportingTimeZoneTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly DateTimeOffset LastSecond = new(2025, 4, 10, 15, 59, 59, TimeSpan.Zero);

    private static async Task<(TallyApp App, SetClock Clock)> StartAsync(string zone)
    {
        var clock = new SetClock(new DateTimeOffset(2025, 4, 10, 15, 0, 0, TimeSpan.Zero));
        var app = await TallyApp.StartAsync(new Dictionary<string, string?> { ["Tally:TimeZone"] = zone },
            services => services.AddSingleton<TimeProvider>(new OfficeClock(clock, OfficeClock.ZoneOf(zone))));
        return (app, clock);
    }

    [Theory]
    [InlineData("Asia/Shanghai", false)]
    [InlineData("UTC", true)]
    public async Task A_report_in_the_last_second_of_the_due_day_is_on_time_and_the_next_second_is_late_in_the_office_zone(
        string zone, bool nextSecondOnTime)
    {
        var (app, clock) = await StartAsync(zone);
        await using var _ = app;
        var district = await app.OrgUnitAsync();
        var (early, late, submitter) = (await app.OrgUnitAsync(district), await app.OrgUnitAsync(district), await app.OrgUnitAsync(district));
        var plan = await app.PlanAsync(["notices.issued"], [early, late, submitter], dueDays: 10);
        using var writer = await app.ClientWithAsync(["events:write", "totals:read"]);

        clock.Now = LastSecond;
        (await writer.PutAsJsonAsync("/api/v1/events/external/count", Count(early, 1), Ct)).EnsureSuccessStatusCode();
        clock.Now = LastSecond.AddSeconds(1);
        await writer.RecordAsync("notices.issued", "2025-03-31", 1, late);
        // A unit with nothing to report reports by submitting; submitted in the next second, it is as late as an event.
        await writer.SubmittedAsync(plan, "2025-Q1", submitter);

        var status = await writer.StatusAsync(plan, "2025-Q1");
        Assert.Equal("2025-04-10", status["dueOn"]!.GetValue<string>());
        Assert.Equal(zone == "UTC" ? "2025-04-11T00:00:00Z" : "2025-04-10T16:00:00Z", status["dueBy"]!.GetValue<string>());
        Assert.True(status.Unit(early)["onTime"]!.GetValue<bool>());
        Assert.Equal(nextSecondOnTime, status.Unit(late)["onTime"]!.GetValue<bool>());
        Assert.Equal(nextSecondOnTime, status.Unit(submitter)["onTime"]!.GetValue<bool>());
        Assert.Equal("2025-04-10T15:59:59Z", status.Unit(early)["reportedAt"]!.GetValue<string>());
        Assert.Equal(nextSecondOnTime ? 3 : 1, status["summary"]!["onTime"]!.GetValue<int>());
        Assert.Equal(3, status["summary"]!["reported"]!.GetValue<int>());

        // A correction after the due day (a supersede in the same cell) keeps the report on time; a withdrawal does not.
        clock.Now = LastSecond.AddDays(3);
        var corrected = await writer.PutAsJsonAsync("/api/v1/events/external/count", Count(early, 2), Ct);
        var head = (await corrected.ReadJsonAsync())["event"]!["id"]!.GetValue<string>();
        var afterCorrection = (await writer.StatusAsync(plan, "2025-Q1")).Unit(early);
        Assert.True(afterCorrection["onTime"]!.GetValue<bool>());
        Assert.Equal("2025-04-10T15:59:59Z", afterCorrection["reportedAt"]!.GetValue<string>());
        Assert.Equal("2025-04-13T15:59:59Z", afterCorrection["lastRecordedAt"]!.GetValue<string>());
        (await writer.PostAsJsonAsync($"/api/v1/events/{head}/void", new { reason = "撤回" }, Ct)).EnsureSuccessStatusCode();
        var withdrawn = (await writer.StatusAsync(plan, "2025-Q1")).Unit(early);
        Assert.Equal("missing", withdrawn["state"]!.GetValue<string>());
        Assert.False(withdrawn["onTime"]!.GetValue<bool>());
        Assert.Null(withdrawn["lastRecordedAt"]);
    }

    private static object Count(string orgUnit, long quantity) =>
        new { metric = "notices.issued", occurredOn = "2025-03-30", quantity, orgUnit };

    private sealed class SetClock(DateTimeOffset start) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = start;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
