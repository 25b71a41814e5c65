using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Reporting;

/// <summary>What the reporting tests set up: a plan of their own over units of their own.</summary>
internal static class ReportingFixtures
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<string> PlanAsync(this TallyApp app, string[] metrics, string[] reporters, string frequency = "quarter",
        int dueDays = 10, string startsOn = "2025-01-01", string? endsOn = null)
    {
        var code = Unique.Code("plan");
        using var admin = app.Admin();
        var response = await admin.PostAsJsonAsync("/api/v1/reporting/plans",
            new { code, name = "测试报送计划 " + code, metrics, frequency, reporters, dueDays, startsOn, endsOn }, Ct);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"plan: {(int)response.StatusCode} {body}");
        return code;
    }

    public static Task<HttpResponseMessage> SubmitAsync(this HttpClient client, string plan, string period, string orgUnit) =>
        client.PostAsJsonAsync("/api/v1/reporting/submissions", new { plan, period, orgUnit }, Ct);

    /// <summary>Submits (asserting 201) and returns the submission.</summary>
    public static async Task<JsonNode> SubmittedAsync(this HttpClient client, string plan, string period, string orgUnit)
    {
        var response = await client.SubmitAsync(plan, period, orgUnit);
        var body = await response.Content.ReadAsStringAsync(Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"submit: {(int)response.StatusCode} {body}");
        return JsonNode.Parse(body)!;
    }

    public static Task<HttpResponseMessage> ApproveAsync(this HttpClient client, string id) =>
        client.PostAsync($"/api/v1/reporting/submissions/{id}/approve", null, Ct);

    public static Task<HttpResponseMessage> ReturnAsync(this HttpClient client, string id, string reason) =>
        client.PostAsJsonAsync($"/api/v1/reporting/submissions/{id}/return", new { reason }, Ct);

    public static Task<JsonNode> StatusAsync(this HttpClient client, string plan, string period, string? orgUnit = null) =>
        client.GetJsonAsync($"/api/v1/reporting/status?plan={plan}&period={period}" + (orgUnit is null ? "" : $"&orgUnit={orgUnit}"));

    public static JsonNode Unit(this JsonNode status, string orgUnit) =>
        status["units"]!.AsArray().Single(u => u!["orgUnit"]!.GetValue<string>() == orgUnit)!;
}
