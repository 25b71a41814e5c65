using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Tally.Api.Tests.Infrastructure;

public static class EventPosting
{
    /// <summary>Records one event (asserting 201) and returns its id.</summary>
    public static async Task<string> RecordAsync(this HttpClient client, string metric, string occurredOn, long quantity,
        string orgUnit, object? dimensions = null, string? campaign = null, string? externalId = null)
    {
        var response = await client.PostAsJsonAsync("/api/v1/events",
            new { metric, occurredOn, quantity, orgUnit, dimensions, campaign, externalId }, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"Expected 201, got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!["id"]!.GetValue<string>();
    }

    /// <summary>GETs a URL, asserts 200 and returns the JSON body.</summary>
    public static async Task<JsonNode> GetJsonAsync(this HttpClient client, string url)
    {
        var response = await client.GetAsync(url, TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: expected 200, got {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!;
    }
}
