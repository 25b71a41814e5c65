using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Data;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Totals;

/// <summary>
/// Random events, voids and supersedes over several years, units and campaigns; then random queries, each checked
/// against a plain recomputation from the events table (live totals from the rollups, asOf totals, the report).
/// </summary>
public sealed class TotalsPropertyTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly Dictionary<string, (string Key, string[] Values)?> Metrics = new()
    {
        ["outreach.sessions"] = ("venue", ["government", "community", "enterprise", "commercial"]),
        ["websites.cleaned"] = ("category", ["pornography", "gambling"]),
        ["leads.handled"] = ("kind", ["infringement", "fraud"]),
        ["notices.issued"] = null,
        ["reports.tianjin"] = null,
    };

    private sealed record StoredEvent(string Id, string Metric, DateOnly Day, long Quantity, string OrgUnit, string? Campaign,
        Dictionary<string, string> Dimensions, DateTimeOffset RecordedAt, DateTimeOffset? VoidedAt)
    {
        public bool CountsAt(DateTimeOffset? asOf) => asOf is null
            ? VoidedAt is null
            : RecordedAt <= asOf && (VoidedAt is null || VoidedAt > asOf);
    }

    private sealed record Tree(string Root, Dictionary<string, string?> Parents)
    {
        public bool IsWithin(string ancestor, string unit)
        {
            for (string? u = unit; u is not null; u = Parents[u])
            {
                if (u == ancestor)
                    return true;
            }
            return false;
        }
    }

    [Theory]
    [InlineData(20240101)]
    [InlineData(20250106)]
    public async Task Totals_and_reports_equal_a_recomputation_from_the_events(int seed)
    {
        var random = new Random(seed);
        var tree = await TreeAsync();
        var units = tree.Parents.Keys.ToList();
        var campaigns = new List<string?> { null, await CampaignAsync(), await CampaignAsync() };
        using var writer = await app.ClientWithAsync(["events:write"]);
        var ids = new List<string>();

        async Task CreateAsync(int count)
        {
            var bodies = Enumerable.Range(0, count).Select(_ => RandomEvent(random, units, campaigns)).ToList();
            var created = new string[bodies.Count];
            await Parallel.ForEachAsync(Enumerable.Range(0, bodies.Count), new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = Ct },
                async (i, ct) =>
                {
                    var response = await writer.PostAsJsonAsync("/api/v1/events", bodies[i], ct);
                    Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(ct));
                    created[i] = (await response.ReadJsonAsync())["id"]!.GetValue<string>();
                });
            ids.AddRange(created);
        }

        async Task CorrectAsync(int voids, int supersedes)
        {
            var active = ActiveIds();
            foreach (var id in active.OrderBy(_ => random.Next()).Take(voids + supersedes).Select((id, i) => (id, i)))
            {
                if (id.i < voids)
                    await app.VoidAsync(id.id);
                else
                    ids.Add((await app.SupersedeAsync(id.id, random.Next(1, 5000))).Id);
            }
        }

        List<string> ActiveIds()
        {
            using var db = app.OpenDatabase();
            return db.Query<string>($"SELECT id FROM events WHERE {TestStore.InList("id", "ids")} AND voided_at IS NULL ORDER BY id", new { ids = ids.ToArray() }).ToList();
        }

        var start = DateTimeOffset.UtcNow;
        await CreateAsync(250);
        var afterCreates = DateTimeOffset.UtcNow;
        await CorrectAsync(voids: 30, supersedes: 25);
        await CreateAsync(60);
        var afterCorrections = DateTimeOffset.UtcNow;
        await CorrectAsync(voids: 15, supersedes: 15);
        var end = DateTimeOffset.UtcNow;

        var events = Load(tree);
        Assert.Equal(ids.Count, events.Count);
        AssertRollupsMatch(tree, events);

        using var reader = await app.ClientWithAsync(["totals:read"]);
        var catalog = await CatalogAsync(reader);
        DateTimeOffset?[] instants = [null, start, afterCreates, afterCorrections, end,
            start + ((end - start) * random.NextDouble())];
        for (var q = 0; q < 150; q++)
        {
            var query = RandomQuery(random, units, campaigns, instants);
            var body = await reader.GetJsonAsync("/api/v1/totals?" + query.QueryString());
            var expected = Expected(query, events, tree, catalog);
            var actual = ContractRows(body["rows"]!);
            Assert.True(expected == actual, $"seed {seed}, query {query.QueryString()}\nexpected {expected}\nactual   {actual}");
        }

        foreach (var instant in new[] { afterCreates, afterCorrections, end })
        {
            foreach (var unit in units)
            {
                var asOf = Uri.EscapeDataString(instant.ToString("O", CultureInfo.InvariantCulture));
                var report = await reader.GetJsonAsync($"/api/v1/reports/annual/2024?orgUnit={unit}&asOf={asOf}");
                var counted = events.Where(e => e.Day.Year == 2024 && tree.IsWithin(unit, e.OrgUnit) && e.CountsAt(instant))
                    .OrderBy(e => e.Id, StringComparer.Ordinal).ToList();
                Assert.Equal(Digest(counted), report["digest"]!.GetValue<string>());
                foreach (var figure in report["figures"]!.AsArray())
                {
                    var metric = figure!["metric"]!.GetValue<string>();
                    Assert.Equal(counted.Where(e => e.Metric == metric).Sum(e => e.Quantity), figure["value"]!.GetValue<long>());
                    Assert.Equal(counted.Count(e => e.Metric == metric), figure["events"]!.GetValue<long>());
                }
                var again = await reader.GetJsonAsync($"/api/v1/reports/annual/2024?orgUnit={unit}&asOf={asOf}");
                Assert.Equal(report["digest"]!.GetValue<string>(), again["digest"]!.GetValue<string>());
            }
        }
    }

    /// <summary>
    /// The rows with the contract's keys only: each row's name (the metric's, an extension) is checked to be there and
    /// taken off with the names of its groups, which DimensionValueNameTests checks.
    /// </summary>
    private static string ContractRows(JsonNode rows)
    {
        var copy = rows.DeepClone().AsArray();
        foreach (var row in copy.Select(r => r!.AsObject()))
        {
            Assert.False(string.IsNullOrEmpty(row["name"]?.GetValue<string>()), row.ToJsonString());
            row.Remove("name");
            row.Remove("names");
        }
        return copy.ToJsonString(Plain);
    }

    private static readonly JsonSerializerOptions Plain =
        new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Digest(IEnumerable<StoredEvent> counted) =>
        "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Concat(counted.Select(e => $"{e.Id}\t{e.Quantity.ToString(CultureInfo.InvariantCulture)}\n")))));

    private async Task<Tree> TreeAsync()
    {
        var root = await app.OrgUnitAsync(parent: null);
        var a = await app.OrgUnitAsync(root);
        var b = await app.OrgUnitAsync(root);
        var a1 = await app.OrgUnitAsync(a);
        var a2 = await app.OrgUnitAsync(a);
        var b1 = await app.OrgUnitAsync(b);
        return new Tree(root, new() { [root] = null, [a] = root, [b] = root, [a1] = a, [a2] = a, [b1] = b });
    }

    private async Task<string> CampaignAsync()
    {
        var code = Unique.Code("camp");
        using var admin = app.Admin();
        var response = await admin.PostAsJsonAsync("/api/v1/campaigns",
            new { code, name = "专项行动 " + code, startsOn = "2019-01-01", endsOn = "2024-12-31" }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return code;
    }

    private static object RandomEvent(Random random, List<string> units, List<string?> campaigns)
    {
        var metric = Metrics.Keys.ElementAt(random.Next(Metrics.Count));
        var day = random.Next(10) switch
        {
            0 => new DateOnly(2024, 2, 29),
            1 => new DateOnly(random.Next(2019, 2025), 12, 31),
            2 => new DateOnly(random.Next(2019, 2025), random.Next(1, 13), 1),
            _ => new DateOnly(2019, 1, 1).AddDays(random.Next(6 * 365 + 1)),
        };
        Dictionary<string, string>? dimensions = null;
        if (Metrics[metric] is { } dimension && random.Next(4) != 0)
            dimensions = new() { [dimension.Key] = dimension.Values[random.Next(dimension.Values.Length)] };
        return new
        {
            metric, occurredOn = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            quantity = random.Next(8) == 0 ? random.Next(10_000, 1_000_000) : random.Next(1, 500),
            orgUnit = units[random.Next(units.Count)], campaign = campaigns[random.Next(campaigns.Count)], dimensions,
        };
    }

    private List<StoredEvent> Load(Tree tree)
    {
        using var db = app.OpenDatabase();
        return db.Query<(string Id, string Metric, string Day, long Quantity, string OrgUnit, string? Campaign, string Dimensions,
                string RecordedAt, string? VoidedAt)>(
                $"""
                SELECT id, metric, occurred_on, quantity, org_unit, campaign, dimensions, recorded_at, voided_at
                FROM events WHERE {TestStore.InList("org_unit", "units")}
                """, new { units = tree.Parents.Keys.ToArray() })
            .Select(r => new StoredEvent(r.Id, r.Metric, DateOnly.ParseExact(r.Day, "yyyy-MM-dd", CultureInfo.InvariantCulture),
                r.Quantity, r.OrgUnit, r.Campaign, JsonSerializer.Deserialize<Dictionary<string, string>>(r.Dimensions)!,
                ParseInstant(r.RecordedAt), r.VoidedAt is null ? null : ParseInstant(r.VoidedAt)))
            .ToList();
    }

    private static DateTimeOffset ParseInstant(string text) =>
        DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    /// <summary>Every rollup table holds exactly the sums of the active events, row for row.</summary>
    private void AssertRollupsMatch(Tree tree, List<StoredEvent> events)
    {
        using var db = app.OpenDatabase();
        foreach (var (table, period, keyOf) in new (string, string, Func<StoredEvent, string>)[]
        {
            ("daily_rollups", "day", e => e.Day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)),
            ("monthly_rollups", "month", e => e.Day.ToString("yyyy-MM", CultureInfo.InvariantCulture)),
            ("monthly_unit_rollups", "month", e => e.Day.ToString("yyyy-MM", CultureInfo.InvariantCulture)),
        })
        {
            var detailed = table != "monthly_unit_rollups";
            var stored = db.Query<(string Metric, string Period, string OrgUnit, string Campaign, string Dimensions, long Value, long Events)>(
                    detailed
                        ? $"SELECT metric, {period}, org_unit, campaign, dimensions, value, events FROM {table} WHERE {TestStore.InList("org_unit", "units")}"
                        : $"SELECT metric, {period}, org_unit, '', '', value, events FROM {table} WHERE {TestStore.InList("org_unit", "units")}",
                    new { units = tree.Parents.Keys.ToArray() })
                .Select(r => $"{r.Metric}|{r.Period}|{r.OrgUnit}|{r.Campaign}|{r.Dimensions}|{r.Value}|{r.Events}")
                .Order(StringComparer.Ordinal).ToList();
            var recomputed = events.Where(e => e.VoidedAt is null)
                .GroupBy(e => detailed
                    ? $"{e.Metric}|{keyOf(e)}|{e.OrgUnit}|{e.Campaign ?? ""}|{JsonSerializer.Serialize(new SortedDictionary<string, string>(e.Dimensions, StringComparer.Ordinal))}"
                    : $"{e.Metric}|{keyOf(e)}|{e.OrgUnit}||")
                .Select(g => $"{g.Key}|{g.Sum(e => e.Quantity)}|{g.Count()}")
                .Order(StringComparer.Ordinal).ToList();
            Assert.Equal(recomputed, stored);
        }
    }

    private static async Task<Dictionary<string, (int Position, string Unit)>> CatalogAsync(HttpClient client)
    {
        var page = await client.GetJsonAsync("/api/v1/metrics?limit=1000");
        return page["items"]!.AsArray().Select((m, i) => (Code: m!["code"]!.GetValue<string>(), Position: i, Unit: m["unit"]!.GetValue<string>()))
            .ToDictionary(m => m.Code, m => (m.Position, m.Unit));
    }

    private sealed record Query(int? Year, DateOnly From, DateOnly To, List<string>? Metric, string OrgUnit, string? Campaign,
        List<string> Groups, DateTimeOffset? AsOf)
    {
        public string QueryString()
        {
            var parts = new List<string>();
            parts.Add(Year is { } y ? $"year={y}" : $"from={From:yyyy-MM-dd}&to={To:yyyy-MM-dd}");
            parts.AddRange((Metric ?? []).Select(m => "metric=" + m));
            parts.Add("orgUnit=" + OrgUnit);
            if (Campaign is not null)
                parts.Add("campaign=" + Campaign);
            if (Groups.Count > 0)
                parts.Add("groupBy=" + string.Join(',', Groups));
            if (AsOf is { } asOf)
                parts.Add("asOf=" + Uri.EscapeDataString(asOf.ToString("O", CultureInfo.InvariantCulture)));
            return string.Join('&', parts);
        }
    }

    private static Query RandomQuery(Random random, List<string> units, List<string?> campaigns, DateTimeOffset?[] instants)
    {
        int? year = null;
        DateOnly from, to;
        if (random.Next(2) == 0)
        {
            year = random.Next(2019, 2025);
            (from, to) = (new DateOnly(year.Value, 1, 1), new DateOnly(year.Value, 12, 31));
        }
        else
        {
            var a = new DateOnly(2018, 12, 1).AddDays(random.Next(6 * 365 + 60));
            var b = random.Next(3) == 0 ? a.AddDays(random.Next(45)) : new DateOnly(2018, 12, 1).AddDays(random.Next(6 * 365 + 60));
            (from, to) = a <= b ? (a, b) : (b, a);
        }
        List<string>? metrics = null;
        if (random.Next(3) != 0)
        {
            var pool = Metrics.Keys.Append("accounts.interviewed").ToList();
            metrics = pool.OrderBy(_ => random.Next()).Take(random.Next(1, 4)).ToList();
        }
        var dims = Metrics.Where(m => metrics is null || metrics.Contains(m.Key)).Select(m => m.Value).OfType<(string Key, string[] Values)>()
            .Select(d => "dim." + d.Key);
        var groupPool = new[] { "quarter", "month", "orgUnit", "campaign" }.Concat(dims).ToList();
        var groups = groupPool.OrderBy(_ => random.Next()).Take(random.Next(0, 4)).ToList();
        return new Query(year, from, to, metrics, units[random.Next(units.Count)], campaigns[random.Next(campaigns.Count)],
            groups, instants[random.Next(instants.Length)]);
    }

    /// <summary>The rows a query should give, computed the plain way from the events, serialized as the API does.</summary>
    private static string Expected(Query query, List<StoredEvent> events, Tree tree, Dictionary<string, (int Position, string Unit)> catalog)
    {
        string? KeyOf(StoredEvent e, string group) => group switch
        {
            "quarter" => $"{e.Day.Year}-Q{((e.Day.Month - 1) / 3) + 1}",
            "month" => e.Day.ToString("yyyy-MM", CultureInfo.InvariantCulture),
            "orgUnit" => e.OrgUnit,
            "campaign" => e.Campaign,
            _ => e.Dimensions.GetValueOrDefault(group["dim.".Length..]),
        };
        var matching = events.Where(e => e.CountsAt(query.AsOf) && e.Day >= query.From && e.Day <= query.To
            && tree.IsWithin(query.OrgUnit, e.OrgUnit) && (query.Metric is null || query.Metric.Contains(e.Metric))
            && (query.Campaign is null || e.Campaign == query.Campaign));
        var cells = matching
            .GroupBy(e => (e.Metric, Keys: string.Join('\u0001', query.Groups.Select(g => KeyOf(e, g) ?? "\u0000"))))
            .Select(g => (g.Key.Metric, Keys: query.Groups.Select(k => KeyOf(g.First(), k)).ToList(), Value: g.Sum(e => e.Quantity), Events: (long)g.Count()))
            .ToList();
        foreach (var named in query.Metric ?? [])
        {
            if (!cells.Any(c => c.Metric == named))
                cells.Add((named, query.Groups.Select(_ => (string?)null).ToList(), 0, 0));
        }
        var ordered = cells.OrderBy(c => catalog[c.Metric].Position)
            .ThenBy(c => c.Keys, Comparer<List<string?>>.Create((a, b) =>
            {
                for (var i = 0; i < a.Count; i++)
                {
                    var order = string.CompareOrdinal(a[i], b[i]);
                    if (order != 0)
                        return order;
                }
                return 0;
            }));
        var rows = new JsonArray();
        foreach (var cell in ordered)
        {
            var row = new JsonObject
            {
                ["metric"] = cell.Metric, ["unit"] = catalog[cell.Metric].Unit, ["value"] = cell.Value, ["events"] = cell.Events,
            };
            for (var i = 0; i < query.Groups.Count; i++)
                row[query.Groups[i]] = cell.Keys[i];
            rows.Add(row);
        }
        return rows.ToJsonString(Plain);
    }
}
