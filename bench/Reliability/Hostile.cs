using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Tally.Reliability;

/// <summary>
/// Hostile load for a fixed time (issue 17): a flood of bad-key requests, requests with arbitrary methods, hostile
/// import files (dry runs) and expensive <c>asOf</c> reads from one read key, all at once, while a probe measures
/// <c>/health/live</c>, <c>/health/ready</c> and one single POST every 250 ms, and the server's RSS is sampled.
/// The server runs with the shipped rate limits, and a GC heap limit so a runaway import fails inside it rather than
/// taking the machine down.
/// </summary>
public static class Hostile
{
    private const int BadKeyWorkers = 6;
    private const int MethodWorkers = 2;
    private const int ImportWorkers = 2;
    private const int ReadWorkers = 4;

    private sealed record Sample(string Name, int Status, double Milliseconds);

    public static async Task<int> RunAsync(string dll, int port, TimeSpan duration, string outFolder)
    {
        var heapLimitMb = int.Parse(Environment.GetEnvironmentVariable("HEAP_LIMIT_MB") ?? "2048", CultureInfo.InvariantCulture);
        var environment = new Dictionary<string, string>
        {
            ["Tally__RateLimit__PermitsPerSecond"] = "1000",
            ["Tally__RateLimit__Burst"] = "2000",
            ["DOTNET_GCHeapHardLimit"] = ((long)heapLimitMb * 1024 * 1024).ToString("X", CultureInfo.InvariantCulture),
        };
        using var server = new Server(dll, port, Path.Combine(outFolder, "hostile.db"), Path.Combine(outFolder, "hostile-server.log"),
            environment);
        await server.StartAsync();
        using var admin = Client(server.BaseAddress, Server.AdminKey);
        var writeKey = await KeyAsync(admin, "hostile-writer", ["events:write"]);
        var probeKey = await KeyAsync(admin, "hostile-probe", ["events:write"]);
        var readKey = await KeyAsync(admin, "hostile-reader", ["events:read", "totals:read"]);
        var seeded = await SeedAsync(Client(server.BaseAddress, writeKey));
        var metricsBefore = await MetricsBytesAsync(admin);
        var files = ImportFiles();
        var sizes = string.Join(", ", files.Select(f => FormattableString.Invariant($"{f.Name} {f.Body.Length / 1024} KiB")));
        Console.WriteLine(FormattableString.Invariant(
            $"hostile: {duration.TotalSeconds:F0} s, {seeded} events seeded, heap limit {heapLimitMb} MiB, import files: {sizes}"));

        var probes = new ConcurrentQueue<Sample>();
        var attacks = new ConcurrentQueue<Sample>();
        var rss = new List<double>();
        using var stop = new CancellationTokenSource(duration);
        var rssStart = Rss(server.Pid);
        var tasks = new List<Task>();
        for (var w = 0; w < BadKeyWorkers; w++)
            tasks.Add(Attack(server.BaseAddress, null, w, attacks, BadKey, stop.Token));
        for (var w = 0; w < MethodWorkers; w++)
            tasks.Add(Attack(server.BaseAddress, null, 100 + w, attacks, ArbitraryMethod, stop.Token));
        for (var w = 0; w < ImportWorkers; w++)
            tasks.Add(Attack(server.BaseAddress, writeKey, 200 + w, attacks, (c, r, i) => Import(c, r, files), stop.Token));
        for (var w = 0; w < ReadWorkers; w++)
            tasks.Add(Attack(server.BaseAddress, readKey, 300 + w, attacks, AsOfRead, stop.Token));
        tasks.Add(Probe(server.BaseAddress, probeKey, probes, stop.Token));
        tasks.Add(Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested && !server.HasExited)
            {
                lock (rss)
                    rss.Add(Rss(server.Pid));
                try
                {
                    await Task.Delay(100, stop.Token);
                }
                catch (TaskCanceledException)
                {
                }
            }
        }));
        await Task.WhenAll(tasks);
        var exited = server.HasExited;
        var rssEnd = exited ? 0 : Rss(server.Pid);
        var metricsAfter = exited ? 0 : await MetricsBytesAsync(admin);
        server.Kill();

        var lines = new List<string>
        {
            string.Create(CultureInfo.InvariantCulture, $"# Hostile load: {duration.TotalSeconds:F0} s, {seeded} events seeded, heap limit {heapLimitMb} MiB"),
            "",
            "| probe | requests | non-2xx | median ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|",
        };
        lines.AddRange(probes.GroupBy(p => p.Name).OrderBy(g => g.Key, StringComparer.Ordinal).Select(Row));
        lines.Add("");
        lines.Add("| attack | requests | statuses | median ms | p99 ms | max ms |");
        lines.Add("|---|---|---|---|---|---|");
        lines.AddRange(attacks.GroupBy(a => a.Name).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        {
            var sorted = g.Select(s => s.Milliseconds).Order().ToArray();
            var statuses = string.Join(" ", g.GroupBy(s => s.Status).OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Count()}"));
            return string.Create(CultureInfo.InvariantCulture,
                $"| {g.Key} | {sorted.Length} | {statuses} | {Percentile(sorted, 0.5):F1} | {Percentile(sorted, 0.99):F1} | {(sorted.Length == 0 ? 0 : sorted[^1]):F1} |");
        }));
        lines.Add("");
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"RSS MiB: start {rssStart:F0}, peak {(rss.Count == 0 ? 0 : rss.Max()):F0}, end {rssEnd:F0}" +
            $"{(exited ? " (the server exited during the run: see hostile-server.log)" : "")}. " +
            $"/metrics: {metricsBefore / 1024.0:F0} KiB before, {metricsAfter / 1024.0:F0} KiB after."));
        var fiveXx = probes.Count(p => p.Status >= 500) + attacks.Count(a => a.Status >= 500);
        lines.Add($"5xx answers (probes and attacks): {fiveXx}.");
        await File.WriteAllLinesAsync(Path.Combine(outFolder, "hostile.md"), lines);
        foreach (var line in lines)
            Console.WriteLine(line);
        return exited ? 1 : 0;
    }

    private static string Row(IGrouping<string, Sample> group)
    {
        var sorted = group.Select(s => s.Milliseconds).Order().ToArray();
        return string.Create(CultureInfo.InvariantCulture,
            $"| {group.Key} | {sorted.Length} | {group.Count(s => s.Status is < 200 or >= 300)} | {Percentile(sorted, 0.5):F1} | {Percentile(sorted, 0.99):F1} | {(sorted.Length == 0 ? 0 : sorted[^1]):F1} |");
    }

    /// <summary>One attacker: sends as fast as the server answers until the run ends.</summary>
    private static Task Attack(Uri baseAddress, string? key, int seed, ConcurrentQueue<Sample> samples,
        Func<HttpClient, Random, int, (string Name, HttpRequestMessage Request)> make, CancellationToken stop) => Task.Run(async () =>
    {
        using var client = Client(baseAddress, key);
        var random = new Random(seed);
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var (name, request) = make(client, random, i);
            using (request)
                await SendAsync(client, name, request, samples, stop);
        }
    }, CancellationToken.None);

    private static async Task SendAsync(HttpClient client, string name, HttpRequestMessage request,
        ConcurrentQueue<Sample> samples, CancellationToken stop)
    {
        var started = Stopwatch.GetTimestamp();
        int status;
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop);
            await response.Content.CopyToAsync(Stream.Null, stop);
            status = (int)response.StatusCode;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            status = 599;
        }
        samples.Enqueue(new Sample(name, status, Stopwatch.GetElapsedTime(started).TotalMilliseconds));
    }

    /// <summary>Every 250 ms: liveness, readiness, and one event recorded by a key of its own.</summary>
    private static Task Probe(Uri baseAddress, string key, ConcurrentQueue<Sample> samples, CancellationToken stop) => Task.Run(async () =>
    {
        using var client = Client(baseAddress, key);
        client.Timeout = TimeSpan.FromSeconds(30);
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            await SendAsync(client, "GET /health/live", new HttpRequestMessage(HttpMethod.Get, "/health/live"), samples, stop);
            await SendAsync(client, "GET /health/ready", new HttpRequestMessage(HttpMethod.Get, "/health/ready"), samples, stop);
            await SendAsync(client, "POST /api/v1/events", new HttpRequestMessage(HttpMethod.Post, "/api/v1/events")
            {
                Content = JsonContent.Create(new
                {
                    metric = "reports.tianjin", occurredOn = "2024-06-01", quantity = 1, orgUnit = "hedong", externalId = $"probe-{i}",
                }),
            }, samples, stop);
            try
            {
                await Task.Delay(250, stop);
            }
            catch (TaskCanceledException)
            {
            }
        }
    }, CancellationToken.None);

    private static (string, HttpRequestMessage) BadKey(HttpClient client, Random random, int i)
    {
        var request = random.Next(3) == 0
            ? new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = JsonContent.Create(new { metric = "x" }) }
            : new HttpRequestMessage(HttpMethod.Get, $"/api/v1/events?limit={random.Next(1, 1000)}");
        var secret = random.Next(4) switch
        {
            0 => null,
            1 => "Basic dXNlcjpwYXNz",
            2 => "Bearer " + new string('x', random.Next(1, 500)),
            _ => "Bearer tly_" + Convert.ToHexString(RandomBytes(random, 32)),
        };
        if (secret is not null)
            request.Headers.TryAddWithoutValidation("Authorization", secret);
        return ("bad key", request);
    }

    private static readonly string[] Paths = ["/api/v1/events", "/api/v1/metrics", "/metrics", "/health/live", "/", "/api/v1/totals"];

    private static (string, HttpRequestMessage) ArbitraryMethod(HttpClient client, Random random, int i)
    {
        var method = new string(Enumerable.Range(0, random.Next(3, 12)).Select(_ => (char)('A' + random.Next(26))).ToArray());
        var path = random.Next(3) == 0 ? $"/x{random.Next()}/{random.Next()}" : Paths[random.Next(Paths.Length)];
        return ("arbitrary method", new HttpRequestMessage(new HttpMethod(method), path));
    }

    private static (string, HttpRequestMessage) Import(HttpClient client, Random random, IReadOnlyList<ImportFile> files)
    {
        var file = files[random.Next(files.Count)];
        var content = new ByteArrayContent(file.Body);
        content.Headers.ContentType = new MediaTypeHeaderValue(file.ContentType);
        return ("import " + file.Name, new HttpRequestMessage(HttpMethod.Post, "/api/v1/imports?dryRun=true") { Content = content });
    }

    private static (string, HttpRequestMessage) AsOfRead(HttpClient client, Random random, int i)
    {
        var asOf = DateTimeOffset.UtcNow.AddSeconds(-random.Next(0, 3600)).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var url = random.Next(2) == 0
            ? $"/api/v1/totals?year=2024&groupBy=month&asOf={asOf}"
            : $"/api/v1/reports/annual/2024?asOf={asOf}";
        return ("asOf read", new HttpRequestMessage(HttpMethod.Get, url));
    }

    private sealed record ImportFile(string Name, string ContentType, byte[] Body);

    private const string Xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

    /// <summary>Small files that unpack to far more than their size (issue 17 findings 1 and 2), and files that are not files.</summary>
    private static List<ImportFile> ImportFiles()
    {
        const string header = "<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>metric</t></is></c></row>";
        var wide = new StringBuilder(header);
        for (var row = 2; row <= 2001; row++)
            wide.Append(CultureInfo.InvariantCulture, $"<row r=\"{row}\"><c r=\"XFD{row}\"><v>1</v></c></row>");
        return
        [
            new("xlsx far column", Xlsx, Workbook(header + "<row r=\"2\"><c r=\"ZZZZZZ2\"><v>1</v></c></row>", null)),
            new("xlsx long string", Xlsx, Workbook(header + "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>0</v></c></row>",
                "<t>" + new string('A', 50_000_000) + "</t>")),
            new("xlsx wide rows", Xlsx, Workbook(wide.ToString(), null)),
            new("ndjson one line", "application/x-ndjson", Encoding.UTF8.GetBytes("{\"note\":\"" + new string('x', 20_000_000) + "\"}\n")),
            new("csv many columns", "text/csv", Encoding.UTF8.GetBytes(string.Join(',', Enumerable.Range(0, 100_000).Select(c => $"c{c}")) + "\n1\n")),
            new("garbage", Xlsx, RandomBytes(new Random(7), 64 * 1024)),
        ];
    }

    private static byte[] Workbook(string sheetData, string? sharedString)
    {
        const string main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
        const string rels = "http://schemas.openxmlformats.org/package/2006/relationships";
        const string officeRels = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
        using var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Part(string name, string xml)
            {
                using var writer = new StreamWriter(zip.CreateEntry(name, CompressionLevel.SmallestSize).Open(), new UTF8Encoding(false));
                writer.Write(xml);
            }
            Part("[Content_Types].xml", """<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>""");
            Part("_rels/.rels", $"""<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{rels}"><Relationship Id="rId1" Type="{officeRels}/officeDocument" Target="xl/workbook.xml"/></Relationships>""");
            Part("xl/workbook.xml", $"""<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{officeRels}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>""");
            Part("xl/_rels/workbook.xml.rels", $"""<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{rels}"><Relationship Id="rId1" Type="{officeRels}/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{officeRels}/sharedStrings" Target="sharedStrings.xml"/></Relationships>""");
            Part("xl/worksheets/sheet1.xml", $"""<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{main}"><sheetData>{sheetData}</sheetData></worksheet>""");
            Part("xl/sharedStrings.xml", $"""<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{main}" count="1" uniqueCount="1"><si>{sharedString ?? "<t>x</t>"}</si></sst>""");
        }
        return stream.ToArray();
    }

    private static async Task<string> KeyAsync(HttpClient admin, string name, string[] scopes)
    {
        var response = await admin.PostAsJsonAsync("/api/v1/api-keys", new { name, source = name, scopes });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
    }

    /// <summary>Events for the asOf reads to scan: 5 batches of 10,000 over 2024.</summary>
    private static async Task<int> SeedAsync(HttpClient writer)
    {
        using (writer)
        {
            for (var b = 0; b < 5; b++)
            {
                var events = Enumerable.Range(0, 10_000).Select(k => new
                {
                    metric = "outreach.sessions", occurredOn = new DateOnly(2024, 1, 1).AddDays(k % 366).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                    quantity = k % 50 + 1, orgUnit = "hedong", externalId = $"seed-{b}-{k}",
                    dimensions = new Dictionary<string, string> { ["venue"] = (k % 4) switch { 0 => "government", 1 => "community", 2 => "enterprise", _ => "commercial" } },
                }).ToArray();
                var response = await writer.PostAsJsonAsync("/api/v1/events/batch", new { events });
                response.EnsureSuccessStatusCode();
            }
        }
        return 50_000;
    }

    private static async Task<long> MetricsBytesAsync(HttpClient client)
    {
        try
        {
            return (await client.GetByteArrayAsync("/metrics")).LongLength;
        }
        catch (HttpRequestException)
        {
            return -1;
        }
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static HttpClient Client(Uri baseAddress, string? key)
    {
        var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static double Rss(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }
}
