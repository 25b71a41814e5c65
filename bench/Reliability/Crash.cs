using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Tally.Reliability;

/// <summary>
/// Concurrent single and batch writes; SIGKILL at a random moment; restart; then check that every acknowledged event
/// is there, no batch is torn, the file is intact, rollups equal the events, and the audit chain verifies.
/// </summary>
public static class Crash
{
    private const int BatchSize = 20;
    private const int Writers = 8;

    public static async Task<int> RunAsync(string dll, int port, int rounds, string outFolder, int seed)
    {
        var random = new Random(seed);
        var databasePath = Path.Combine(outFolder, "crash.db");
        var acknowledged = new ConcurrentDictionary<string, int>(); // externalId prefix -> events in it
        var failures = 0;
        var totalAcked = 0;
        using var server = new Server(dll, port, databasePath, Path.Combine(outFolder, "crash-server.log"));
        await server.StartAsync();
        for (var round = 1; round <= rounds; round++)
        {
            using var stop = new CancellationTokenSource();
            var before = acknowledged.Count;
            var writers = Enumerable.Range(0, Writers)
                .Select(w => Task.Run(() => WriteAsync(server.BaseAddress, round, w, acknowledged, stop.Token)))
                .ToArray();
            var killAfter = TimeSpan.FromMilliseconds(random.Next(300, 4000));
            await Task.Delay(killAfter);
            server.Kill();
            await stop.CancelAsync();
            await Task.WhenAll(writers);
            var ackedThisRound = acknowledged.Count - before;
            totalAcked += ackedThisRound;

            await server.StartAsync();
            var problems = await CheckAsync(server.BaseAddress, databasePath, acknowledged);
            failures += problems.Count;
            Console.WriteLine($"round {round}: killed after {killAfter.TotalMilliseconds:F0} ms, {ackedThisRound} writes acknowledged " +
                $"this round, {acknowledged.Count} in all; checks: {(problems.Count == 0 ? "ok" : string.Join("; ", problems))}");
        }
        server.Kill();
        Console.WriteLine(failures == 0
            ? $"crash: {rounds} rounds, {acknowledged.Count} acknowledged writes, all checks passed"
            : $"crash: {failures} check failures");
        return failures == 0 ? 0 : 1;
    }

    private static async Task WriteAsync(Uri baseAddress, int round, int writer, ConcurrentDictionary<string, int> acknowledged, CancellationToken stop)
    {
        using var client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Server.AdminKey);
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var batch = i % 3 == 2;
            var prefix = $"{(batch ? "b" : "s")}-{round}-{writer}-{i}";
            try
            {
                using var response = batch
                    ? await client.PostAsJsonAsync("/api/v1/events/batch",
                        new { events = Enumerable.Range(0, BatchSize).Select(k => Event($"{prefix}.{k}", k + 1)).ToArray() }, stop)
                    : await client.PostAsJsonAsync("/api/v1/events", Event(prefix, 7), stop);
                if (response.IsSuccessStatusCode)
                    acknowledged[prefix] = batch ? BatchSize : 1;
                else if ((int)response.StatusCode != 503)
                    Console.WriteLine($"unexpected {(int)response.StatusCode} for {prefix}: {await response.Content.ReadAsStringAsync(stop)}");
            }
            catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
            {
                // The server died under this request: its fate is unknown, and either fate is allowed (but never half a batch).
                if (stop.IsCancellationRequested)
                    return;
                await Task.Delay(20, CancellationToken.None);
            }
        }
    }

    private static object Event(string externalId, int quantity) => new
    {
        metric = "leads.handled", occurredOn = "2024-06-01", quantity, orgUnit = "hedong",
        dimensions = new Dictionary<string, string> { ["kind"] = quantity % 2 == 0 ? "fraud" : "infringement" }, externalId,
    };

    private static async Task<List<string>> CheckAsync(Uri baseAddress, string databasePath, ConcurrentDictionary<string, int> acknowledged)
    {
        var problems = new List<string>();
        using (var db = new SqliteConnection($"Data Source={databasePath};Mode=ReadOnly;Pooling=false"))
        {
            db.Open();
            var stored = db.Query<string>("SELECT external_id FROM events WHERE external_id IS NOT NULL").ToList();
            var perPrefix = stored.GroupBy(id => id.Split('.')[0]).ToDictionary(g => g.Key, g => g.Count());
            var missing = acknowledged.Where(a => perPrefix.GetValueOrDefault(a.Key) != a.Value).Select(a => a.Key).ToList();
            if (missing.Count > 0)
                problems.Add($"{missing.Count} acknowledged writes missing or incomplete (e.g. {missing[0]})");
            var torn = perPrefix.Where(p => p.Key.StartsWith("b-", StringComparison.Ordinal) && p.Value != BatchSize).ToList();
            if (torn.Count > 0)
                problems.Add($"{torn.Count} torn batches (e.g. {torn[0].Key}: {torn[0].Value} of {BatchSize})");
            var integrity = db.ExecuteScalar<string>("PRAGMA integrity_check");
            if (integrity != "ok")
                problems.Add("integrity_check: " + integrity);
            var mismatched = db.ExecuteScalar<long>("""
                SELECT count(*) FROM (
                    SELECT metric, occurred_on AS day, org_unit, sum(quantity) AS value, count(*) AS n
                    FROM events WHERE voided_at IS NULL GROUP BY metric, occurred_on, org_unit) e
                FULL JOIN (
                    SELECT metric, day, org_unit, sum(value) AS value, sum(events) AS n
                    FROM daily_rollups GROUP BY metric, day, org_unit HAVING sum(events) <> 0) r
                ON e.metric = r.metric AND e.day = r.day AND e.org_unit = r.org_unit
                WHERE e.value IS NOT r.value OR e.n IS NOT r.n
                """);
            if (mismatched != 0)
                problems.Add($"{mismatched} rollup rows differ from the events");
        }
        using var client = new HttpClient { BaseAddress = baseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Server.AdminKey);
        var verify = JsonNode.Parse(await client.GetStringAsync("/api/v1/audit/verify"))!;
        if (verify["valid"]?.GetValue<bool>() != true)
            problems.Add("audit verify: " + verify.ToJsonString());
        return problems;
    }
}
