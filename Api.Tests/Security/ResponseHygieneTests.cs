using System.Net;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Security;

public sealed class ResponseHygieneTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("GET", "/api/v1/metrics", 200)]
    [InlineData("GET", "/health/live", 200)]
    [InlineData("GET", "/api/v1/no-such-route", 404)]
    [InlineData("GET", "/api/v1/events/nothing", 404)]
    [InlineData("POST", "/api/v1/events", 400)]
    public async Task Every_response_carries_the_security_headers_and_no_Server_header(string method, string path, int status)
    {
        using var client = app.Admin();
        using var request = new HttpRequestMessage(new HttpMethod(method), path)
        {
            Content = method == "POST" ? new StringContent("{", System.Text.Encoding.UTF8, "application/json") : null,
        };
        var response = await client.SendAsync(request, Ct);
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
        Assert.False(response.Headers.Contains("Server"));
    }

    [Fact]
    public async Task Unknown_routes_are_404_problems()
    {
        using var client = app.Admin();
        await (await client.GetAsync("/api/v1/no-such-route", Ct)).AssertProblemAsync(404, "/problems/not-found");
        await (await client.GetAsync("/nothing/here", Ct)).AssertProblemAsync(404, "/problems/not-found");
    }

    [Fact]
    public async Task A_wrong_method_is_a_405_problem()
    {
        using var client = app.Admin();
        var response = await client.PatchAsync("/api/v1/metrics", new StringContent("{}"), Ct);
        await response.AssertProblemAsync(405, "/problems/method-not-allowed");
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_a_4xx_problem()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var response = await client.PostAsync("/api/v1/events", new StringContent("metric=x", System.Text.Encoding.UTF8, "text/plain"), Ct);
        Assert.InRange((int)response.StatusCode, 400, 499);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Health_reports_live_and_ready()
    {
        using var client = app.Client(key: null);
        var live = await (await client.GetAsync("/health/live", Ct)).ReadJsonAsync();
        Assert.Equal("live", live["status"]!.GetValue<string>());
        var ready = await client.GetAsync("/health/ready", Ct);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready", (await ready.ReadJsonAsync())["status"]!.GetValue<string>());
    }
}

public sealed class QueryParameterTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_misspelled_query_parameter_is_400_not_ignored()
    {
        using var client = app.Admin();
        var body = await (await client.GetAsync("/api/v1/metrics?limt=5", Ct)).AssertValidationAsync("limt");
        Assert.Contains("limit", body["errors"]!["limt"]![0]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_repeated_single_valued_parameter_is_400()
    {
        using var client = app.Admin();
        await (await client.GetAsync("/api/v1/metrics?limit=5&limit=6", Ct)).AssertValidationAsync("limit");
    }

    [Fact]
    public async Task A_query_parameter_cannot_overwrite_a_body_field()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var unit = await app.OrgUnitAsync();
        var response = await client.PostJsonAsync("/api/v1/events?quantity=999",
            $$"""{"metric":"notices.issued","occurredOn":"2024-04-01","quantity":1,"orgUnit":"{{unit}}"}""");
        await response.AssertValidationAsync("quantity");
        using var db = app.OpenDatabase();
        Assert.Equal(0, Dapper.SqlMapper.ExecuteScalar<int>(db, "SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
    }
}

public sealed class DashboardServingTests(TallyApp app)
{
    [Fact]
    public async Task The_dashboard_is_served_at_the_root_with_a_content_security_policy()
    {
        using var client = app.Client(key: null);
        var response = await client.GetAsync("/", TestContext.Current.CancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Contains("<html lang=\"zh-CN\">", html, StringComparison.Ordinal);
        Assert.Contains("<script src=\"app.js\" type=\"module\">", html, StringComparison.Ordinal);
        // The page's script loads the vendored ECharts itself, beside its first requests.
        var script = await client.GetStringAsync("/app.js", TestContext.Current.CancellationToken);
        Assert.Contains("\"vendor/echarts/echarts.min.js\"", script, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());

        var echarts = await client.GetAsync("/vendor/echarts/echarts.min.js", TestContext.Current.CancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.OK, echarts.StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await client.GetAsync("/vendor/echarts/LICENSE.txt", TestContext.Current.CancellationToken)).StatusCode);
    }
}
