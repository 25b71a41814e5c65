using Dapper;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Features.Reports;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Reports;

/// <summary>
/// A report of "now" is kept and brought forward between asks: each answer must equal the same report read whole from
/// the ledger at its instant, through appends, voids, catalog changes and a restart.
/// </summary>
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
        // The count made ahead at start (none here: no events yet) is done before the test begins.
        await CountedAheadAsync(app);
        using var writer = await app.ClientWithAsync(["events:write"]);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        const string url = "/api/v1/reports/annual/2024?orgUnit=hedong";
        async Task<(long Value, string Digest, string AsOf)> Report()
        {
            var report = await reader.GetJsonAsync(url);
            var figure = report["figures"]!.AsArray().Single(f => f!["metric"]!.GetValue<string>() == "notices.issued")!;
            return (figure["value"]!.GetValue<long>(), report["digest"]!.GetValue<string>(), report["asOf"]!.GetValue<string>());
        }
        // A report at an explicit instant is read whole from the ledger: the running one must equal it exactly.
        async Task AssertSameAtItsInstant((long Value, string Digest, string AsOf) running)
        {
            var whole = await reader.GetJsonAsync(url + "&asOf=" + Uri.EscapeDataString(running.AsOf));
            Assert.Equal(running.Digest, whole["digest"]!.GetValue<string>());
            Assert.Equal(running.Value, Value(whole));
        }

        var first = await writer.RecordAsync("notices.issued", "2024-02-01", 5, "hedong");
        var counted = await Report();
        Assert.Equal(5, counted.Value);
        await AssertSameAtItsInstant(counted);

        await writer.RecordAsync("notices.issued", "2024-03-01", 7, "hedong");
        await writer.RecordAsync("notices.issued", "2023-03-01", 100, "hedong");
        var appended = await Report();
        Assert.Equal(12, appended.Value);
        Assert.NotEqual(counted.Digest, appended.Digest);
        await AssertSameAtItsInstant(appended);
        // The earlier instant still gives the earlier figure, whatever the running count has appended since.
        await AssertSameAtItsInstant(counted);

        await app.VoidAsync(first);
        var afterVoid = await Report();
        Assert.Equal(7, afterVoid.Value);
        await AssertSameAtItsInstant(afterVoid);
        await AssertSameAtItsInstant(appended);

        using (var admin = app.Admin())
        {
            var created = await admin.PostAsJsonAsync("/api/v1/org-units", new { code = "hedong-street", name = "街道", parent = "hedong" }, Ct);
            Assert.Equal(System.Net.HttpStatusCode.Created, created.StatusCode);
        }
        await writer.RecordAsync("notices.issued", "2024-04-01", 1, "hedong-street");
        var afterCatalog = await Report();
        Assert.Equal(8, afterCatalog.Value);
        await AssertSameAtItsInstant(afterCatalog);

        await writer.RecordAsync("notices.issued", "2024-04-02", 2, "hedong-street");
        var appendedInNewUnit = await Report();
        Assert.Equal(10, appendedInNewUnit.Value);
        await AssertSameAtItsInstant(appendedInNewUnit);

        // A metric deactivated leaves the running report at once; its figure no longer counts in the digest.
        using (var admin = app.Admin())
        {
            var deactivated = await admin.PutAsJsonAsync("/api/v1/metrics/notices.issued",
                new { name = "下发问题提示单", unit = "次", reportTemplate = "下发问题提示单{value}次", active = false }, Ct);
            Assert.Equal(System.Net.HttpStatusCode.OK, deactivated.StatusCode);
        }
        var withoutMetric = await reader.GetJsonAsync(url);
        Assert.DoesNotContain(withoutMetric["figures"]!.AsArray(), f => f!["metric"]!.GetValue<string>() == "notices.issued");
        Assert.Equal("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", withoutMetric["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_void_reads_again_only_its_own_year_and_a_restart_counts_the_latest_years_ahead()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using var writer = await app.ClientWithAsync(["events:write"]);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        await CountedAheadAsync(app);
        var old = await writer.RecordAsync("notices.issued", "2023-05-01", 3, "hedong");
        await writer.RecordAsync("notices.issued", "2024-05-01", 4, "hedong");
        Assert.Equal(3, Value(await reader.GetJsonAsync("/api/v1/reports/annual/2023")));
        var before = await reader.GetJsonAsync("/api/v1/reports/annual/2024");
        Assert.Equal(4, Value(before));

        await app.VoidAsync(old);
        Assert.Equal(0, Value(await reader.GetJsonAsync("/api/v1/reports/annual/2023")));
        var after = await reader.GetJsonAsync("/api/v1/reports/annual/2024");
        Assert.Equal(4, Value(after));
        Assert.Equal(before["digest"]!.GetValue<string>(), after["digest"]!.GetValue<string>());
        await writer.RecordAsync("notices.issued", "2024-05-02", 6, "hedong");
        Assert.Equal(10, Value(await reader.GetJsonAsync("/api/v1/reports/annual/2024")));

        // Restarted on the same file, the service counts 2024 (the latest year with events) and 2023 by itself.
        await using var restarted = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Tally"] = app.ConnectionString,
        });
        await CountedAheadAsync(restarted);
        using var again = restarted.Client(await restarted.KeyAsync(["totals:read", "events:write"]));
        var restartedReport = await again.GetJsonAsync("/api/v1/reports/annual/2024");
        Assert.Equal(10, Value(restartedReport));
        Assert.Equal(0, Value(await again.GetJsonAsync("/api/v1/reports/annual/2023")));
        await again.RecordAsync("notices.issued", "2024-05-03", 1, "hedong");
        var appended = await again.GetJsonAsync("/api/v1/reports/annual/2024");
        Assert.Equal(11, Value(appended));
        var whole = await again.GetJsonAsync("/api/v1/reports/annual/2024?asOf=" + Uri.EscapeDataString(appended["asOf"]!.GetValue<string>()));
        Assert.Equal(whole["digest"]!.GetValue<string>(), appended["digest"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_count_asked_before_a_void_already_committed_is_not_kept_past_it()
    {
        // A request's instant can come before a group that commits before the request reads (its void carries a later
        // instant): the count at the request's instant still has the event, and must not be brought forward with it.
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>());
        await CountedAheadAsync(app);
        using var writer = await app.ClientWithAsync(["events:write"]);
        var kept = await writer.RecordAsync("notices.issued", "2024-02-01", 5, "hedong");
        var voided = await writer.RecordAsync("notices.issued", "2024-02-02", 7, "hedong");
        var row = await app.VoidAsync(voided);
        var counter = app.Services.GetRequiredService<CountedEvents>();
        var beforeVoid = DateTimeOffset.Parse(row.VoidedAt!, System.Globalization.CultureInfo.InvariantCulture).AddTicks(-1);

        var then = await counter.CountAsync(2024, "hedong", beforeVoid, Ct);
        var now = await counter.CountAsync(2024, "hedong", DateTimeOffset.UtcNow, Ct);

        Assert.Equal((12, 2), then.Sums["notices.issued"]);
        Assert.Equal((5, 1), now.Sums["notices.issued"]);
        using var db = app.OpenDatabase();
        Assert.Equal(kept, db.ExecuteScalar<string>("SELECT id FROM events WHERE metric = 'notices.issued' AND voided_at IS NULL"));
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var whole = await reader.GetJsonAsync("/api/v1/reports/annual/2024?orgUnit=hedong&asOf="
            + Uri.EscapeDataString(DateTimeOffset.UtcNow.ToString("O", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(whole["digest"]!.GetValue<string>(), now.Digest);
    }

    private static long Value(System.Text.Json.Nodes.JsonNode report) =>
        report["figures"]!.AsArray().Single(f => f!["metric"]!.GetValue<string>() == "notices.issued")!["value"]!.GetValue<long>();
}
