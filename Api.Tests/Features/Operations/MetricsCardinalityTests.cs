using System.Net;
using System.Text.RegularExpressions;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Operations;

/// <summary>/metrics labels come from a fixed set: no method or path a stranger sends can add a series.</summary>
public sealed partial class MetricsCardinalityTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Tally's own labels (OTHER for the rest) and ASP.NET Core's meters' fixed list (CONNECT, TRACE, QUERY; _OTHER for the rest).
    private static readonly HashSet<string> KnownMethods =
        new(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "CONNECT", "TRACE", "QUERY", "OTHER", "_OTHER"],
            StringComparer.Ordinal);

    [Fact]
    public async Task Requests_with_random_methods_and_paths_add_no_metrics_series()
    {
        // Its own app with a bucket no flood here empties: every answer is a 404 or 405, never a 429.
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["Tally:RateLimit:PermitsPerSecond"] = "100000",
            ["Tally:RateLimit:Burst"] = "100000",
        });
        using var stranger = app.Client(key: null);
        var random = new Random(17);
        var sent = new List<string>();

        async Task FloodAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                var method = "X" + Token(random, 6);
                var path = (i % 3) switch
                {
                    0 => "/" + Token(random, 10),
                    1 => "/api/v1/events/" + Token(random, 10),
                    _ => "/api/v1/" + Token(random, 8) + "/" + Token(random, 8),
                };
                sent.Add(method);
                sent.Add(path.TrimStart('/').Split('/')[^1]);
                using var request = new HttpRequestMessage(new HttpMethod(method), path);
                var response = await stranger.SendAsync(request, Ct);
                Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed,
                    $"{method} {path}: {response.StatusCode}");
            }
        }

        await FloodAsync(60);
        var before = await OddSeriesAsync(stranger);
        await FloodAsync(400);
        var after = await OddSeriesAsync(stranger);
        var text = await stranger.GetStringAsync("/metrics", Ct);

        Assert.Equal(before.Count, after.Count);
        Assert.Empty(sent.Where(token => text.Contains(token, StringComparison.Ordinal)).Take(5));
        var methods = MethodLabel().Matches(text).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        Assert.True(methods.IsSubsetOf(KnownMethods), "method labels outside the fixed set: " + string.Join(", ", methods.Except(KnownMethods)));
    }

    /// <summary>The distinct label sets of series labelled with a method other than the routes' own (what a stranger reaches).</summary>
    private static async Task<HashSet<string>> OddSeriesAsync(HttpClient client)
    {
        var text = await client.GetStringAsync("/metrics", Ct);
        return text.Split('\n')
            .Where(line => line.Length > 0 && line[0] != '#')
            .Select(line => line[..line.LastIndexOf(' ')])
            .Where(series => MethodLabel().Matches(series).Any(m => m.Groups[1].Value is not ("GET" or "POST" or "PUT" or "PATCH" or "DELETE" or "HEAD" or "OPTIONS")))
            .ToHashSet(StringComparer.Ordinal);
    }

    private static string Token(Random random, int length) =>
        string.Create(length, random, (span, r) =>
        {
            for (var i = 0; i < span.Length; i++)
                span[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[r.Next(26)];
        });

    [GeneratedRegex("(?:^|[{,])(?:method|http_request_method)=\"([^\"]*)\"")]
    private static partial Regex MethodLabel();
}
