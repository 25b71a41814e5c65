using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;
using Tally.Api.Data;
using Tally.Api.Features.Reports;
using Tally.Api.Ledger;

namespace Tally.Bench;

/// <summary>
/// Times each API request (sequential, over loopback, full body read) and the same answer computed by a plain
/// GROUP BY over the events table of the same file, checks that both answers agree, and prints a Markdown table row
/// per case. The asOf cases (issue 18) scan the events counted as of the instant: recorded by it and not voided by
/// it, in the WHERE of the same GROUP BY; a report's scan also takes only the metrics active then (metric_history),
/// as the report does, and its digests are checked once (untimed) against the counted events' ids and quantities.
/// </summary>
public static partial class Driver
{
    /// <param name="DigestSql">For a report: the counted events' "id, quantity" in id order, to check both digests.</param>
    private sealed record Case(string Name, string Url, string ScanSql, Func<JsonNode, List<string>> AnswerOf, string? DigestSql = null);

    /// <summary>Mid-2024, with an offset (UTC 2024-07-17T07:37:12Z: inside an hour, inside a month).</summary>
    private const string MidYear = "2024-07-17T15:37:12+08:00";

    /// <summary>A January publication of 2024's figures (UTC 2025-01-05T02:00:00Z: exactly on an hour's start).</summary>
    private const string January = "2025-01-05T10:00:00+08:00";

    /// <summary>The events counted as of an instant (storage form), as the ledger defines it.</summary>
    private static string CountedAt(string asOf)
    {
        var t = Instant.ToStorage(DateTimeOffset.Parse(asOf, CultureInfo.InvariantCulture));
        return $"recorded_at <= '{t}' AND (voided_at IS NULL OR voided_at > '{t}')";
    }

    /// <summary>The metrics active at an instant, as the annual report reads them (Features/Reports/MetricsAsOf.cs).</summary>
    private static string MetricsActiveAt(string asOf)
    {
        var t = Instant.ToStorage(DateTimeOffset.Parse(asOf, CultureInfo.InvariantCulture));
        return $"""
            metric IN (SELECT h.code FROM metric_history h
                       WHERE h.valid_from = (SELECT max(valid_from) FROM metric_history WHERE code = h.code AND valid_from <= '{t}')
                         AND h.active = 1)
            """;
    }

    private static string Query(string asOf) => Uri.EscapeDataString(asOf);

    private const string Hedong = "org_unit IN (SELECT descendant FROM org_unit_closure WHERE ancestor = 'hedong')";

    private static Case Report(string name, string url, string asOf, string? subtree)
    {
        var within = subtree is null ? "" : " AND " + subtree;
        var where = $"""
            WHERE occurred_on BETWEEN '2024-01-01' AND '2024-12-31' AND {CountedAt(asOf)}{within}
              AND {MetricsActiveAt(asOf)}
            """;
        return new(name, url, $"SELECT metric || '|' || sum(quantity) || '|' || count(*) FROM events\n{where}\nGROUP BY metric",
            Figures, $"SELECT id, quantity FROM events\n{where}\nORDER BY id");
    }

    private static readonly Case[] Cases =
    [
        new("totals year=2024", "/api/v1/totals?year=2024",
            """
            SELECT metric || '|' || sum(quantity) || '|' || count(*) FROM events
            WHERE occurred_on BETWEEN '2024-01-01' AND '2024-12-31' AND voided_at IS NULL
            GROUP BY metric
            """,
            body => Rows(body, r => $"{r["metric"]}|{r["value"]}|{r["events"]}")),
        new("totals year=2024&groupBy=month,orgUnit", "/api/v1/totals?year=2024&groupBy=month,orgUnit",
            """
            SELECT metric || '|' || substr(occurred_on, 1, 7) || '|' || org_unit || '|' || sum(quantity) || '|' || count(*) FROM events
            WHERE occurred_on BETWEEN '2024-01-01' AND '2024-12-31' AND voided_at IS NULL
            GROUP BY metric, substr(occurred_on, 1, 7), org_unit
            """,
            body => Rows(body, r => $"{r["metric"]}|{r["month"]}|{r["orgUnit"]}|{r["value"]}|{r["events"]}")),
        new("totals year=2024&orgUnit=hedong", "/api/v1/totals?year=2024&orgUnit=hedong",
            """
            SELECT metric || '|' || sum(quantity) || '|' || count(*) FROM events
            WHERE occurred_on BETWEEN '2024-01-01' AND '2024-12-31' AND voided_at IS NULL
              AND org_unit IN (SELECT descendant FROM org_unit_closure WHERE ancestor = 'hedong')
            GROUP BY metric
            """,
            body => Rows(body, r => $"{r["metric"]}|{r["value"]}|{r["events"]}")),
        new("totals from=2024-03-15&to=2024-11-20&groupBy=quarter,dim.venue", "/api/v1/totals?from=2024-03-15&to=2024-11-20&groupBy=quarter,dim.venue",
            """
            SELECT metric || '|' || (substr(occurred_on, 1, 4) || '-Q' || ((CAST(substr(occurred_on, 6, 2) AS INTEGER) + 2) / 3))
                   || '|' || coalesce(json_extract(dimensions, '$.venue'), '') || '|' || sum(quantity) || '|' || count(*) FROM events
            WHERE occurred_on BETWEEN '2024-03-15' AND '2024-11-20' AND voided_at IS NULL
            GROUP BY metric, substr(occurred_on, 1, 4) || '-Q' || ((CAST(substr(occurred_on, 6, 2) AS INTEGER) + 2) / 3),
                     json_extract(dimensions, '$.venue')
            """,
            body => Rows(body, r => $"{r["metric"]}|{r["quarter"]}|{r["dim.venue"]}|{r["value"]}|{r["events"]}")),
        new("reports/annual/2024", "/api/v1/reports/annual/2024",
            """
            SELECT metric || '|' || sum(quantity) || '|' || count(*) FROM events
            WHERE occurred_on BETWEEN '2024-01-01' AND '2024-12-31' AND voided_at IS NULL
            GROUP BY metric
            """,
            Figures),
        new("reports/annual/2024?orgUnit=hedong", "/api/v1/reports/annual/2024?orgUnit=hedong",
            """
            SELECT metric || '|' || sum(quantity) || '|' || count(*) FROM events
            WHERE occurred_on BETWEEN '2024-01-01' AND '2024-12-31' AND voided_at IS NULL
              AND org_unit IN (SELECT descendant FROM org_unit_closure WHERE ancestor = 'hedong')
            GROUP BY metric
            """,
            Figures),

        // asOf (issue 18): the same answers as the ledger stood at an instant.
        new($"totals year=2024&asOf={MidYear}", $"/api/v1/totals?year=2024&asOf={Query(MidYear)}",
            $"""
            SELECT metric || '|' || sum(quantity) || '|' || count(*) FROM events
            WHERE occurred_on BETWEEN '2024-01-01' AND '2024-12-31' AND {CountedAt(MidYear)}
            GROUP BY metric
            """,
            body => Rows(body, r => $"{r["metric"]}|{r["value"]}|{r["events"]}")),
        new($"totals year=2024&asOf={January}", $"/api/v1/totals?year=2024&asOf={Query(January)}",
            $"""
            SELECT metric || '|' || sum(quantity) || '|' || count(*) FROM events
            WHERE occurred_on BETWEEN '2024-01-01' AND '2024-12-31' AND {CountedAt(January)}
            GROUP BY metric
            """,
            body => Rows(body, r => $"{r["metric"]}|{r["value"]}|{r["events"]}")),
        new($"totals year=2024&groupBy=month,orgUnit&asOf={MidYear}", $"/api/v1/totals?year=2024&groupBy=month,orgUnit&asOf={Query(MidYear)}",
            $"""
            SELECT metric || '|' || substr(occurred_on, 1, 7) || '|' || org_unit || '|' || sum(quantity) || '|' || count(*) FROM events
            WHERE occurred_on BETWEEN '2024-01-01' AND '2024-12-31' AND {CountedAt(MidYear)}
            GROUP BY metric, substr(occurred_on, 1, 7), org_unit
            """,
            body => Rows(body, r => $"{r["metric"]}|{r["month"]}|{r["orgUnit"]}|{r["value"]}|{r["events"]}")),
        new($"totals year=2024&orgUnit=hedong&asOf={January}", $"/api/v1/totals?year=2024&orgUnit=hedong&asOf={Query(January)}",
            $"""
            SELECT metric || '|' || sum(quantity) || '|' || count(*) FROM events
            WHERE occurred_on BETWEEN '2024-01-01' AND '2024-12-31' AND {CountedAt(January)} AND {Hedong}
            GROUP BY metric
            """,
            body => Rows(body, r => $"{r["metric"]}|{r["value"]}|{r["events"]}")),
        new($"totals year=2024&groupBy=campaign,dim.venue&asOf={January}", $"/api/v1/totals?year=2024&groupBy=campaign,dim.venue&asOf={Query(January)}",
            $"""
            SELECT metric || '|' || coalesce(campaign, '') || '|' || coalesce(json_extract(dimensions, '$.venue'), '')
                   || '|' || sum(quantity) || '|' || count(*) FROM events
            WHERE occurred_on BETWEEN '2024-01-01' AND '2024-12-31' AND {CountedAt(January)}
            GROUP BY metric, coalesce(campaign, ''), json_extract(dimensions, '$.venue')
            """,
            body => Rows(body, r => $"{r["metric"]}|{r["campaign"]}|{r["dim.venue"]}|{r["value"]}|{r["events"]}")),
        new($"totals from=2024-03-15&to=2024-11-20&groupBy=quarter,dim.venue&asOf={MidYear}",
            $"/api/v1/totals?from=2024-03-15&to=2024-11-20&groupBy=quarter,dim.venue&asOf={Query(MidYear)}",
            $"""
            SELECT metric || '|' || (substr(occurred_on, 1, 4) || '-Q' || ((CAST(substr(occurred_on, 6, 2) AS INTEGER) + 2) / 3))
                   || '|' || coalesce(json_extract(dimensions, '$.venue'), '') || '|' || sum(quantity) || '|' || count(*) FROM events
            WHERE occurred_on BETWEEN '2024-03-15' AND '2024-11-20' AND {CountedAt(MidYear)}
            GROUP BY metric, substr(occurred_on, 1, 4) || '-Q' || ((CAST(substr(occurred_on, 6, 2) AS INTEGER) + 2) / 3),
                     json_extract(dimensions, '$.venue')
            """,
            body => Rows(body, r => $"{r["metric"]}|{r["quarter"]}|{r["dim.venue"]}|{r["value"]}|{r["events"]}")),
        // digestForm=setsum256: the kept digest, answered from kept sums; the default sha256 reads every counted event.
        Report($"reports/annual/2024?asOf={January}&digestForm=setsum256",
            $"/api/v1/reports/annual/2024?asOf={Query(January)}&digestForm=setsum256", January, null),
        Report($"reports/annual/2024?orgUnit=hedong&asOf={MidYear}&digestForm=setsum256",
            $"/api/v1/reports/annual/2024?orgUnit=hedong&asOf={Query(MidYear)}&digestForm=setsum256", MidYear, Hedong),
        Report($"reports/annual/2024?asOf={January}", $"/api/v1/reports/annual/2024?asOf={Query(January)}", January, null),
        Report($"reports/annual/2024?orgUnit=hedong&asOf={January}",
            $"/api/v1/reports/annual/2024?orgUnit=hedong&asOf={Query(January)}", January, Hedong),
    ];

    /// <summary>
    /// Whether the report's digest and keptDigest are those of the counted events (read once, untimed): the sorted
    /// SHA-256 form over id order and the set sum; with digestForm=setsum256 digest is the kept one.
    /// </summary>
    private static bool DigestsMatch(DbConnection connection, string sql, JsonNode body)
    {
        using var sorted = new ReportDigest();
        var kept = new SetDigest();
        foreach (var (id, quantity) in connection.Query<(string, long)>(Dialect(connection, sql), commandTimeout: 0))
        {
            sorted.Add(id, quantity);
            kept.Add(id, quantity);
        }
        var keptDigest = kept.Current();
        var expected = body["digestForm"]!.GetValue<string>() == ReportDigestForms.Kept ? keptDigest : sorted.Finish();
        return body["keptDigest"]!.GetValue<string>() == keptDigest && body["digest"]!.GetValue<string>() == expected;
    }

    private static List<string> Figures(JsonNode body) =>
        body["figures"]!.AsArray().Where(f => f!["events"]!.GetValue<long>() > 0)
            .Select(f => $"{f!["metric"]}|{f["value"]}|{f["events"]}").Order(StringComparer.Ordinal).ToList();

    private static List<string> Rows(JsonNode body, Func<JsonNode, string> format) =>
        body["rows"]!.AsArray().Select(r => format(r!)).Order(StringComparer.Ordinal).ToList();

    /// <param name="store">The database file the API serves, or (<c>Host=…</c>) the PostgreSQL database it serves.</param>
    public static async Task<int> RunAsync(Uri baseUrl, string key, string store, string label)
    {
        using var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromMinutes(5) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        await WaitUntilReadyAsync(http);
        using DbConnection connection = Database.IsPostgres(store)
            ? new NpgsqlConnection(store)
            : new SqliteConnection($"Data Source={store};Mode=ReadOnly;Pooling=False");
        connection.Open();
        var events = connection.ExecuteScalar<long>("SELECT count(*) FROM events");

        Console.WriteLine($"| data | query | API median | API p99 | scan median | scan / API | answers |");
        Console.WriteLine($"|---|---|---|---|---|---|---|");
        var failures = 0;
        var only = Environment.GetEnvironmentVariable("TALLY_BENCH_ONLY");
        foreach (var @case in Cases.Where(c => string.IsNullOrEmpty(only) || c.Name.Contains(only, StringComparison.Ordinal)))
        {
            var (api, body) = await TimeApiAsync(http, @case.Url);
            var (scan, scanned) = TimeScan(connection, @case.ScanSql);
            var same = @case.AnswerOf(body).SequenceEqual(scanned.Order(StringComparer.Ordinal));
            var digests = @case.DigestSql is null ? "" : DigestsMatch(connection, @case.DigestSql, body) ? ", digests equal" : ", digests DIFFERENT";
            same &= !digests.Contains("DIFFERENT", StringComparison.Ordinal);
            failures += same ? 0 : 1;
            var apiMedian = Percentile(api, 0.5);
            var scanMedian = Percentile(scan, 0.5);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {label} ({events / 1e6:0.#}M events) | `{@case.Name}` | {apiMedian:0.00} ms | {Percentile(api, 0.99):0.00} ms | "
                + $"{scanMedian:0} ms | {Ratio(scanMedian / apiMedian)} | {(same ? "equal" : "DIFFERENT")}{digests} ({api.Count} requests, {scan.Count} scans) |"));
        }
        if (File.Exists("/proc/loadavg"))
            Console.WriteLine($"\nload average at the end (1, 5, 15 min): {string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3))}");
        return failures == 0 ? 0 : 1;
    }

    private static async Task WaitUntilReadyAsync(HttpClient http)
    {
        for (var attempt = 0; attempt < 600; attempt++)
        {
            try
            {
                if ((await http.GetAsync(new Uri("/health/ready", UriKind.Relative))).IsSuccessStatusCode)
                    return;
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }
            await Task.Delay(100);
        }
        throw new InvalidOperationException("The API did not become ready.");
    }

    /// <summary>
    /// Warms up (20 requests, or 10 seconds and at least 2), then times up to 500 requests or 30 seconds, whichever
    /// comes first, and at least 10.
    /// </summary>
    private static async Task<(List<double> Millis, JsonNode Body)> TimeApiAsync(HttpClient http, string url)
    {
        var uri = new Uri(url, UriKind.Relative);
        JsonNode? body = null;
        var warming = Stopwatch.StartNew();
        for (var i = 0; i < 20 && (i < 2 || warming.Elapsed < TimeSpan.FromSeconds(10)); i++)
            body = JsonNode.Parse(await Fetch());
        var samples = new List<double>();
        var total = Stopwatch.StartNew();
        while (samples.Count < 500 && (samples.Count < 10 || total.Elapsed < TimeSpan.FromSeconds(30)))
        {
            var one = Stopwatch.StartNew();
            await Fetch();
            samples.Add(one.Elapsed.TotalMilliseconds);
        }
        return (samples, body!);

        async Task<string> Fetch()
        {
            using var response = await http.GetAsync(uri);
            var text = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode ? text : throw new InvalidOperationException($"{url}: {(int)response.StatusCode} {text}");
        }
    }

    /// <summary>One warm-up, then up to 7 scans or 60 seconds (at least 3).</summary>
    private static (List<double> Millis, List<string> Answer) TimeScan(DbConnection connection, string sql)
    {
        sql = Dialect(connection, sql);
        var answer = connection.Query<string>(sql, commandTimeout: 0).ToList();
        var samples = new List<double>();
        var total = Stopwatch.StartNew();
        while (samples.Count < 7 && (samples.Count < 3 || total.Elapsed < TimeSpan.FromSeconds(60)))
        {
            var one = Stopwatch.StartNew();
            _ = connection.Query<string>(sql, commandTimeout: 0).ToList();
            samples.Add(one.Elapsed.TotalMilliseconds);
        }
        return (samples, answer);
    }

    /// <summary>
    /// A scan as PostgreSQL spells it: SQLite's json_extract of a top-level key is jsonb's ->>. Everything else the
    /// scans use (||, substr, CAST AS INTEGER, integer division, coalesce) means the same in both.
    /// </summary>
    private static string Dialect(DbConnection connection, string sql) => connection is NpgsqlConnection
        ? JsonKey().Replace(sql, "(dimensions::jsonb ->> '$1')")
        : sql;

    [System.Text.RegularExpressions.GeneratedRegex(@"json_extract\(dimensions, '\$\.(\w+)'\)")]
    private static partial System.Text.RegularExpressions.Regex JsonKey();

    private static string Ratio(double ratio) =>
        ratio >= 10 ? ratio.ToString("0", CultureInfo.InvariantCulture) + "x" : ratio.ToString("0.0", CultureInfo.InvariantCulture) + "x";

    private static double Percentile(List<double> samples, double p)
    {
        var sorted = samples.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(p * sorted.Count) - 1)];
    }
}
