using System.Diagnostics;
using System.Text;

namespace Tally.Bench;

/// <summary>
/// Single POST /events at a paced rate (--rate per second over --connections workers) until --stop-file exists, e.g.
/// while an import stores. Open loop: each request has a planned send time, and its latency is counted from that time,
/// so time spent queued behind a slow answer is counted too. Prints p50/p99/max, the 5xx count and other failures.
/// </summary>
public static class SinglesClient
{
    public static async Task<int> RunAsync(Options options)
    {
        var url = options.Get("url").TrimEnd('/') + "/api/v1/events";
        var rate = options.Number("rate", 20);
        var connections = options.Number("connections", 4);
        var stopFile = options.Get("stop-file");
        var maxSeconds = options.Number("max-seconds", 900);
        var prefix = options.Get("run", "singles");
        using var http = options.Client(connections, TimeSpan.FromSeconds(120));
        var latencies = new List<double>();
        var statuses = new Dictionary<string, int>(StringComparer.Ordinal);
        var counter = 0;
        var clock = Stopwatch.StartNew();
        var interval = TimeSpan.FromSeconds((double)connections / rate);
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async worker =>
        {
            var planned = interval * worker / connections;
            while (!File.Exists(stopFile) && clock.Elapsed.TotalSeconds < maxSeconds)
            {
                var wait = planned - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                    await Task.Delay(wait);
                var n = Interlocked.Increment(ref counter);
                var body = $$"""{"metric":"websites.cleaned","occurredOn":"2024-03-05","quantity":5,"orgUnit":"hedong","dimensions":{"category":"gambling"},"externalId":"{{prefix}}-{{n}}","note":"bench"}""";
                string status;
                try
                {
                    using var content = new StringContent(body, Encoding.UTF8, "application/json");
                    using var response = await http.PostAsync(url, content);
                    await response.Content.ReadAsByteArrayAsync();
                    status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    status = "failed";
                }
                var latency = (clock.Elapsed - planned).TotalMilliseconds;
                lock (latencies)
                {
                    latencies.Add(latency);
                    statuses[status] = statuses.GetValueOrDefault(status) + 1;
                }
                planned += interval;
            }
        }));
        latencies.Sort();
        double At(double q) => latencies.Count == 0 ? 0 : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
        var fivexx = statuses.Where(s => s.Key.StartsWith('5')).Sum(s => s.Value);
        var other = statuses.Where(s => !s.Key.StartsWith('2') && !s.Key.StartsWith('5')).Sum(s => s.Value);
        Console.WriteLine(FormattableString.Invariant(
            $"singles requests={latencies.Count} seconds={clock.Elapsed.TotalSeconds:F1} p50_ms={At(0.5):F1} p99_ms={At(0.99):F1} max_ms={At(1):F1} status_5xx={fivexx} other_failures={other} statuses={string.Join(',', statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}:{s.Value}"))}"));
        return 0;
    }
}
