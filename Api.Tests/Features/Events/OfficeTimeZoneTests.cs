using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Events;

/// <summary>"Today" and the instants people read are the office's (Tally:TimeZone, default Asia/Shanghai), not UTC's.</summary>
[Collection(nameof(SeparateApps))]
public sealed class OfficeTimeZoneTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The real clock moved so that it is 17:00 UTC now: in Beijing it is already 01:00 the next day.</summary>
    private static readonly TimeSpan ToFivePmUtc = DateTime.UtcNow.Date.AddHours(17) - DateTime.UtcNow;

    private static DateOnly UtcToday => DateOnly.FromDateTime((DateTimeOffset.UtcNow + ToFivePmUtc).UtcDateTime);

    private static Task<TallyApp> StartAsync(string? zone) => TallyApp.StartAsync(
        zone is null ? new Dictionary<string, string?>() : new Dictionary<string, string?> { ["Tally:TimeZone"] = zone },
        services => services.AddSingleton<TimeProvider>(new OfficeClock(new ShiftedClock(ToFivePmUtc),
            OfficeClock.ZoneOf(zone))));

    private static Task<HttpResponseMessage> PostOnAsync(HttpClient client, DateOnly day) =>
        client.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "notices.issued", occurredOn = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), quantity = 1,
            orgUnit = "hedong",
        }, Ct);

    [Fact]
    public async Task Record_accepts_the_office_today_while_it_is_still_yesterday_in_UTC()
    {
        await using var app = await StartAsync(zone: null);
        using var admin = app.Admin();

        var beijingToday = UtcToday.AddDays(1);
        var today = await PostOnAsync(admin, beijingToday);
        var tomorrow = await PostOnAsync(admin, beijingToday.AddDays(1));

        Assert.Equal(HttpStatusCode.Created, today.StatusCode);
        var stored = await admin.GetJsonAsync((today.Headers.Location ?? throw new InvalidOperationException("no Location")).ToString());
        Assert.Equal(beijingToday.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), stored["occurredOn"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.BadRequest, tomorrow.StatusCode);
        var problem = await tomorrow.ReadJsonAsync();
        Assert.Equal("/problems/validation", problem["type"]!.GetValue<string>());
        Assert.Contains("Asia/Shanghai", problem["errors"]!["occurredOn"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_office_in_UTC_refuses_the_day_that_has_begun_only_in_Beijing()
    {
        await using var app = await StartAsync("UTC");
        using var admin = app.Admin();

        var beijingToday = await PostOnAsync(admin, UtcToday.AddDays(1));
        var utcToday = await PostOnAsync(admin, UtcToday);

        Assert.Equal(HttpStatusCode.BadRequest, beijingToday.StatusCode);
        Assert.Equal(HttpStatusCode.Created, utcToday.StatusCode);
    }

    [Fact]
    public async Task Markdown_report_writes_its_as_of_instant_in_office_time()
    {
        await using var app = await StartAsync(zone: null);
        using var admin = app.Admin();
        var json = await admin.GetJsonAsync("/api/v1/reports/annual/2024?orgUnit=hedong");
        var asOf = DateTimeOffset.Parse(json["asOf"]!.GetValue<string>(), CultureInfo.InvariantCulture);

        var markdown = await admin.GetStringAsync(
            $"/api/v1/reports/annual/2024?orgUnit=hedong&format=markdown&asOf={Uri.EscapeDataString(json["asOf"]!.GetValue<string>())}", Ct);

        var local = TimeZoneInfo.ConvertTime(asOf, TimeZoneInfo.FindSystemTimeZoneById("Asia/Shanghai"));
        Assert.Equal(1, local.Hour); // 17:00 UTC is 01:00 in Beijing, on the next day
        Assert.Contains($"数据截至 {local.ToString("yyyy年M月d日 HH:mm", CultureInfo.InvariantCulture)}（北京时间）", markdown,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_time_zone_stops_the_start_naming_it()
    {
        var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var app = await TallyApp.StartAsync(new Dictionary<string, string?> { ["Tally:TimeZone"] = "Mars/Olympus" });
        });
        Assert.Contains("Mars/Olympus", failure.ToString(), StringComparison.Ordinal);
    }

    private sealed class ShiftedClock(TimeSpan shift) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + shift;
    }
}
