using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Tally.Bench;

/// <summary>Posts --rows events to POST /events/batch, --per per request over --connections connections, and times it.</summary>
public static class BatchClient
{
    public static async Task<int> RunAsync(Options options)
    {
        var url = options.Get("url").TrimEnd('/') + "/api/v1/events/batch";
        var total = options.Number("rows", 1_000_000);
        var per = options.Number("per", 10_000);
        var connections = options.Number("connections", 2);
        var run = options.Get("run", "batch");
        var pid = options.Number("pid", 0);

        // Bodies are built before the clock starts: the client's own JSON work is not the server's.
        var bodies = new List<byte[]>();
        for (var start = 0; start < total; start += per)
            bodies.Add(Body(start, Math.Min(total, start + per), run));

        using var http = options.Client(connections, TimeSpan.FromMinutes(5));
        var next = -1;
        var created = 0L;
        await using var rss = pid > 0 ? new RssSampler(pid) : null;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < bodies.Count)
            {
                using var content = new ByteArrayContent(bodies[index]);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                using var response = await http.PostAsync(url, content);
                var text = await response.Content.ReadAsStringAsync();
                if (!response.IsSuccessStatusCode)
                    throw new InvalidOperationException($"batch {index}: {(int)response.StatusCode} {text[..Math.Min(500, text.Length)]}");
                Interlocked.Add(ref created, JsonNode.Parse(text)!["created"]!.GetValue<long>());
            }
        }));
        var seconds = clock.Elapsed.TotalSeconds;
        if (rss is not null)
            await rss.DisposeAsync();
        if (created != total)
            throw new InvalidOperationException($"created {created} of {total}");
        Console.WriteLine(FormattableString.Invariant(
            $"batch rows={total} seconds={seconds:F2} rows_per_s={total / seconds:F0} rss_start_mb={rss?.StartMb:F0} rss_peak_mb={rss?.PeakMb:F0}"));
        return 0;
    }

    private static byte[] Body(int start, int end, string run)
    {
        var json = new StringBuilder(300 * (end - start));
        json.Append("{\"events\":[");
        for (var i = start; i < end; i++)
        {
            var row = Rows.Of(i);
            if (i > start)
                json.Append(',');
            json.Append("{\"metric\":\"").Append(row.Metric).Append("\",\"occurredOn\":\"").Append(row.OccurredOn)
                .Append("\",\"quantity\":").Append(row.Quantity).Append(",\"orgUnit\":\"hedong\"");
            if (row.DimensionKey is not null)
                json.Append(",\"dimensions\":{\"").Append(row.DimensionKey).Append("\":\"").Append(row.DimensionValue).Append("\"}");
            json.Append(",\"externalId\":\"").Append(run).Append('-').Append(i).Append("\",\"note\":\"bench\"}");
        }
        json.Append("]}");
        return Encoding.UTF8.GetBytes(json.ToString());
    }
}
