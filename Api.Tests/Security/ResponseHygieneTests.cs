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
