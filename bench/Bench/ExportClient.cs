using System.Diagnostics;

namespace Tally.Bench;

/// <summary>Streams GET /events/export to nowhere, counting rows, while sampling the server's memory.</summary>
public static class ExportClient
{
    public static async Task<int> RunAsync(Options options)
    {
        var format = options.Get("format");
        var query = options.Get("query", "status=all");
        var url = options.Get("url").TrimEnd('/') + $"/api/v1/events/export?format={format}&{query}";
        var pid = options.Number("pid", 0);
        using var http = options.Client(int.MaxValue, TimeSpan.FromMinutes(10));

        await using var rss = pid > 0 ? new RssSampler(pid) : null;
        var clock = Stopwatch.StartNew();
        using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[1 << 16];
        long lines = 0, bytes = 0;
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            bytes += read;
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
        }
        var seconds = clock.Elapsed.TotalSeconds;
        if (rss is not null)
            await rss.DisposeAsync();
        var rows = format == "csv" ? lines - 1 : lines;
        Console.WriteLine(FormattableString.Invariant(
            $"export format={format} rows={rows} mb={bytes / 1048576.0:F0} seconds={seconds:F2} rows_per_s={rows / seconds:F0} rss_start_mb={rss?.StartMb:F0} rss_peak_mb={rss?.PeakMb:F0} rss_growth_mb={rss?.PeakMb - rss?.StartMb:F0}"));
        return 0;
    }
}
