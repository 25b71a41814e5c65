using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Features.Reports;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Reports;

/// <summary>A report of "now" asked again reads only the events recorded since, until something counted changes.</summary>
[Collection(nameof(SeparateApps))]
public sealed class RunningReportTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Waits until the app's counting ahead at start (<see cref="ReportWarmup"/>) is done.</summary>
    private static Task CountedAheadAsync(TallyApp app) =>
        app.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<ReportWarmup>().Single().ExecuteTask!;

    [Fact]
    public async Task New_events_are_appended_and_a_void_or_catalog_change_reads_the_year_again()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>());
        var counter = app.Services.GetRequiredService<CountedEvents>();
        // The count made ahead at start (none here: no events yet) is done before the test begins.
        await CountedAheadAsync(app);
        Assert.Equal((0, 0), (counter.WholeReads, counter.SinceReads));
        using var writer = await app.ClientWithAsync(["events:write"]);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        const string url = "/api/v1/reports/annual/2024?orgUnit=hedong";
        async Task<(long Value, string Digest, string AsOf)> Report()
        {
            var report = await reader.GetJsonAsync(url);
            var figure = report["figures"]!.AsArray().Single(f => f!["metric"]!.GetValue<string>() == "notices.issued")!;
            return (figure["value"]!.GetValue<long>(), report["digest"]!.GetValue<string>(), report["asOf"]!.GetValue<string>());
        }
        async Task AssertSameAtItsInstant((long Value, string Digest, string AsOf) running)
        {
            var whole = await reader.GetJsonAsync(url + "&asOf=" + Uri.EscapeDataString(running.AsOf));
            Assert.Equal(running.Digest, whole["digest"]!.GetValue<string>());
        }

        var first = await writer.RecordAsync("notices.issued", "2024-02-01", 5, "hedong");
        Assert.Equal(5, (await Report()).Value);
        Assert.Equal((1, 0), (counter.WholeReads, counter.SinceReads));

        await writer.RecordAsync("notices.issued", "2024-03-01", 7, "hedong");
        await writer.RecordAsync("notices.issued", "2023-03-01", 100, "hedong");
        var appended = await Report();
        Assert.Equal(12, appended.Value);
        Assert.Equal((1, 1), (counter.WholeReads, counter.SinceReads));
        await AssertSameAtItsInstant(appended);
        Assert.Equal((2, 1), (counter.WholeReads, counter.SinceReads)); // an explicit asOf is always read whole

        await app.VoidAsync(first);
        var afterVoid = await Report();
        Assert.Equal(7, afterVoid.Value);
        Assert.Equal((3, 1), (counter.WholeReads, counter.SinceReads));
        await AssertSameAtItsInstant(afterVoid);

        using (var admin = app.Admin())
        {
            var created = await admin.PostAsJsonAsync("/api/v1/org-units", new { code = "hedong-street", name = "街道", parent = "hedong" }, Ct);
            Assert.Equal(System.Net.HttpStatusCode.Created, created.StatusCode);
        }
        await writer.RecordAsync("notices.issued", "2024-04-01", 1, "hedong-street");
        var afterCatalog = await Report();
        Assert.Equal(8, afterCatalog.Value);
        Assert.Equal((5, 1), (counter.WholeReads, counter.SinceReads));
        await AssertSameAtItsInstant(afterCatalog);

        Assert.Equal(8, (await Report()).Value);
        Assert.Equal((6, 2), (counter.WholeReads, counter.SinceReads));
    }

    [Fact]
    public async Task A_void_reads_again_only_its_own_year_and_a_restart_counts_the_latest_years_ahead()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using var writer = await app.ClientWithAsync(["events:write"]);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var counter = app.Services.GetRequiredService<CountedEvents>();
        await CountedAheadAsync(app);
        var old = await writer.RecordAsync("notices.issued", "2023-05-01", 3, "hedong");
        await writer.RecordAsync("notices.issued", "2024-05-01", 4, "hedong");
        await reader.GetJsonAsync("/api/v1/reports/annual/2023");
        await reader.GetJsonAsync("/api/v1/reports/annual/2024");
        Assert.Equal((2, 0), (counter.WholeReads, counter.SinceReads));

        await app.VoidAsync(old);
        Assert.Equal(0, Value(await reader.GetJsonAsync("/api/v1/reports/annual/2023")));
        Assert.Equal(4, Value(await reader.GetJsonAsync("/api/v1/reports/annual/2024")));
        Assert.Equal((3, 1), (counter.WholeReads, counter.SinceReads));

        // Restarted on the same file, the service counts 2024 (the latest year with events) and 2023 by itself.
        await using var restarted = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Tally"] = $"Data Source={app.DatabasePath}",
        });
        await CountedAheadAsync(restarted);
        var ahead = restarted.Services.GetRequiredService<CountedEvents>();
        Assert.Equal((2, 0), (ahead.WholeReads, ahead.SinceReads));
        using var again = restarted.Client(await restarted.KeyAsync(["totals:read"]));
        Assert.Equal(4, Value(await again.GetJsonAsync("/api/v1/reports/annual/2024")));
        Assert.Equal((2, 1), (ahead.WholeReads, ahead.SinceReads));
    }

    private static long Value(System.Text.Json.Nodes.JsonNode report) =>
        report["figures"]!.AsArray().Single(f => f!["metric"]!.GetValue<string>() == "notices.issued")!["value"]!.GetValue<long>();
}
