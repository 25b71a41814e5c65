using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Tally.Reliability;

/// <summary>
/// A steady mixed load for minutes on end: single writes, batches, upserts of running counts, listings, exports and
/// (when the route exists) totals, paced to a fixed request rate. Reports 5xx, RSS and latency per minute.
/// </summary>
public static class Soak
{
    private const int Workers = 16;

    private sealed record Sample(string Operation, int Status, double Milliseconds);

    public static async Task<int> RunAsync(string dll, int port, TimeSpan duration, int ratePerSecond, string outFolder)
    {
        using var server = new Server(dll, port, Path.Combine(outFolder, "soak.db"), Path.Combine(outFolder, "soak-server.log"));
        await server.StartAsync();
        using var probe = Client(server.BaseAddress);
        var hasTotals = (int)(await probe.GetAsync("/api/v1/totals?year=2024")).StatusCode != 404;

        var window = new ConcurrentQueue<Sample>();
        var fiveXx = 0L;
        var fourXx = 0L;
        var total = 0L;
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(duration);
        var interval = TimeSpan.FromSeconds(Workers / (double)ratePerSecond);
        var workers = Enumerable.Range(0, Workers).Select(w => Task.Run(async () =>
        {
            using var client = Client(server.BaseAddress);
            var random = new Random(w);
            var next = clock.Elapsed;
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                next += interval;
                var (operation, send) = Pick(random, w, i, hasTotals);
                var started = Stopwatch.GetTimestamp();
                int status;
                try
                {
                    using var response = await send(client);
                    await response.Content.CopyToAsync(Stream.Null);
                    status = (int)response.StatusCode;
                }
                catch (HttpRequestException)
                {
                    status = 599;
                }
                catch (TaskCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }
                window.Enqueue(new Sample(operation, status, Stopwatch.GetElapsedTime(started).TotalMilliseconds));
                Interlocked.Increment(ref total);
                if (status >= 500)
                    Interlocked.Increment(ref fiveXx);
                else if (status >= 400)
                    Interlocked.Increment(ref fourXx);
                var wait = next - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(wait, stop.Token);
                    }
                    catch (TaskCanceledException)
                    {
                        return;
                    }
                }
            }
        })).ToArray();

        var rows = new List<string>
        {
            "| minute | requests | 5xx | p50 ms | p99 ms | max ms | RSS MiB | WAL MiB | p99 ms by operation |",
            "|---|---|---|---|---|---|---|---|---|",
        };
        var rss = new List<double>();
        var p99s = new List<double>();
        for (var minute = 1; !stop.IsCancellationRequested; minute++)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMinutes(1), stop.Token);
            }
            catch (TaskCanceledException)
            {
                break;
            }
            var samples = Drain(window);
            var latencies = samples.Select(s => s.Milliseconds).Order().ToArray();
            var errors = samples.Count(s => s.Status >= 500);
            var mb = Rss(server.Pid);
            rss.Add(mb);
            p99s.Add(Percentile(latencies, 0.99));
            var row = string.Create(CultureInfo.InvariantCulture,
                $"| {minute} | {samples.Count} | {errors} | {Percentile(latencies, 0.5):F1} | {Percentile(latencies, 0.99):F1} | {(latencies.Length == 0 ? 0 : latencies[^1]):F1} | {mb:F0} | {FileMiB(Path.Combine(outFolder, "soak.db-wal")):F0} | {ByOperation(samples)} |");
            rows.Add(row);
            Console.WriteLine(row);
        }
        await Task.WhenAll(workers);
        server.Kill();

        // Warm-up is the first two minutes: the page cache, JIT tiers and pools settle there.
        var warm = rss.Count > 2 ? rss[1] : rss.FirstOrDefault();
        var growth = warm > 0 ? (rss[^1] - warm) / warm * 100 : 0;
        var summary = string.Create(CultureInfo.InvariantCulture,
            $"soak: {duration.TotalMinutes:F0} min at {ratePerSecond} req/s target, {total} requests ({(hasTotals ? "with" : "without")} totals), " +
            $"{fiveXx} 5xx, {fourXx} 4xx; RSS after warm-up {warm:F0} MiB -> end {(rss.Count > 0 ? rss[^1] : 0):F0} MiB ({growth:+0.0;-0.0}%); " +
            $"p99 per minute {(p99s.Count == 0 ? 0 : p99s.Min()):F1}-{(p99s.Count == 0 ? 0 : p99s.Max()):F1} ms");
        rows.Add("");
        rows.Add(summary);
        await File.WriteAllLinesAsync(Path.Combine(outFolder, "soak.md"), rows);
        Console.WriteLine(summary);
        return fiveXx == 0 && fourXx == 0 && growth < 10 ? 0 : 1;
    }

    private static double FileMiB(string path) => File.Exists(path) ? new FileInfo(path).Length / 1048576.0 : 0;

    private static (string, Func<HttpClient, Task<HttpResponseMessage>>) Pick(Random random, int worker, int i, bool hasTotals)
    {
        var roll = random.Next(100);
        var day = new DateOnly(2024, 1, 1).AddDays(random.Next(300)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        return roll switch
        {
            < 40 => ("single", c => c.PostAsJsonAsync("/api/v1/events", Event($"soak-s-{worker}-{i}", day, random.Next(1, 50)))),
            < 50 => ("batch", c => c.PostAsJsonAsync("/api/v1/events/batch",
                new { events = Enumerable.Range(0, 100).Select(k => Event($"soak-b-{worker}-{i}-{k}", day, k + 1)).ToArray() })),
            < 65 => ("upsert", c => c.PutAsJsonAsync($"/api/v1/events/external/soak-count-{worker}-{random.Next(50)}",
                Count("2024-06-30", random.Next(1, 1000)))),
            < 85 => ("list", c => c.GetAsync($"/api/v1/events?from={day}&to={day}&limit=100")),
            < 92 => ("export", c => c.GetAsync($"/api/v1/events/export?from={day}&to={day}&format=ndjson")),
            _ when !hasTotals => ("export", c => c.GetAsync($"/api/v1/events/export?from={day}&to={day}&format=ndjson")),
            _ => ("totals", c => c.GetAsync("/api/v1/totals?year=2024&groupBy=month")),
        };
    }

    private static object Event(string externalId, string day, int quantity) => new
    {
        metric = "outreach.sessions", occurredOn = day, quantity, orgUnit = "hedong", externalId,
        dimensions = new Dictionary<string, string> { ["venue"] = (quantity % 4) switch { 0 => "government", 1 => "community", 2 => "enterprise", _ => "commercial" } },
    };

    /// <summary>An upsert body: the externalId is the route's, a running count re-posted with a new value supersedes.</summary>
    private static object Count(string day, int quantity) => new
    {
        metric = "outreach.sessions", occurredOn = day, quantity, orgUnit = "hedong",
    };

    private static HttpClient Client(Uri baseAddress)
    {
        var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Server.AdminKey);
        return client;
    }

    private static string ByOperation(List<Sample> samples) =>
        string.Join(", ", samples.GroupBy(s => s.Operation).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
            string.Create(CultureInfo.InvariantCulture, $"{g.Key} {Percentile(g.Select(s => s.Milliseconds).Order().ToArray(), 0.99):F0}")));

    private static List<Sample> Drain(ConcurrentQueue<Sample> queue)
    {
        var list = new List<Sample>();
        while (queue.TryDequeue(out var sample))
            list.Add(sample);
        return list;
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static double Rss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        return 0;
    }
}
