using System.Net;
using System.Net.Http.Json;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Operations;

public sealed class OperationsTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Metrics_are_Prometheus_text_with_requests_by_route_and_the_writer_figures()
    {
        using var admin = app.Admin();
        using var anonymous = app.Client(key: null);

        string text = "";
        // The meter listener publishes the writer's instruments on its own schedule: write and look until they are there.
        for (var attempt = 0; attempt < 100 && !text.Contains("tally_ledger_events_stored", StringComparison.Ordinal); attempt++)
        {
            if (attempt > 0)
                await Task.Delay(50, Ct);
            var recorded = await admin.PostAsJsonAsync("/api/v1/events",
                new { metric = "notices.issued", occurredOn = "2024-05-05", quantity = 1, orgUnit = "hedong" }, Ct);
            Assert.Equal(HttpStatusCode.Created, recorded.StatusCode);
            var response = await anonymous.GetAsync("/metrics", Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
            text = await response.Content.ReadAsStringAsync(Ct);
        }

        Assert.Contains("# TYPE http_request_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("http_requests_received_total{code=\"201\",method=\"POST\"", text, StringComparison.Ordinal);
        Assert.Contains("endpoint=\"/api/v1/events\"", text, StringComparison.Ordinal);
        Assert.Contains("tally_ledger_queue_depth", text, StringComparison.Ordinal);
        Assert.Contains("tally_ledger_group_size_count", text, StringComparison.Ordinal);
        Assert.Contains("tally_ledger_commit_duration_bucket", text, StringComparison.Ordinal);
        Assert.Contains("tally_ledger_events_stored", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_id_from_the_caller_is_returned_and_one_is_made_when_missing_or_unsafe()
    {
        using var anonymous = app.Client(key: null);
        using var given = new HttpRequestMessage(HttpMethod.Get, "/health/live");
        given.Headers.Add("X-Request-Id", "office-7:run.42");
        using var unsafeId = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events");
        unsafeId.Headers.TryAddWithoutValidation("X-Request-Id", "bad id <script>");

        var echoed = await anonymous.SendAsync(given, Ct);
        var made = await anonymous.GetAsync("/health/live", Ct);
        var replaced = await anonymous.SendAsync(unsafeId, Ct);

        Assert.Equal("office-7:run.42", Assert.Single(echoed.Headers.GetValues("X-Request-Id")));
        Assert.Matches("^[0-9a-f]{32}$", Assert.Single(made.Headers.GetValues("X-Request-Id")));
        await replaced.AssertProblemAsync(401, "/problems/unauthorized");
        Assert.Matches("^[0-9a-f]{32}$", Assert.Single(replaced.Headers.GetValues("X-Request-Id")));
    }
}
