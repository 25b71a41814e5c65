using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Tally.Api;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Bench;

/// <summary>
/// Writes a synthetic ledger straight into a database file made by the app's own migrations: 20 org units (Tianjin,
/// its 16 districts, three streets of Hedong), the 9 seeded metrics with their dimensions, 4 campaigns, 2020 to 2024,
/// 0.5% of events voided. The rollups are then built from the active events, which is the state EventLedger keeps
/// event by event (the property test checks that equality); the API's answers are compared with a scan anyway.
/// </summary>
public static class Loader
{
    public static readonly string[] Districts =
    [
        "heping", "hexi", "nankai", "hebei", "hongqiao", "dongli", "xiqing", "jinnan", "beichen", "wuqing", "baodi",
        "binhai", "ninghe", "jinghai", "jizhou",
    ];

    public static readonly string[] HedongStreets = ["hedong-dawangzhuang", "hedong-tangjiakou", "hedong-xiangyanglou"];
    public static readonly string[] Campaigns = ["qinglang", "jingwang", "haihe-jingwang", "qinqing-huqi"];

    private sealed record MetricShape(string Code, int Weight, int MaxQuantity, string? DimensionKey, string[] Values);

    private static readonly MetricShape[] Metrics =
    [
        new("outreach.sessions", 10, 5, "venue", ["government", "community", "enterprise", "commercial"]),
        new("campaign.actions", 5, 3, null, []),
        new("leads.handled", 5, 2, "kind", ["infringement", "fraud"]),
        new("notices.issued", 8, 4, null, []),
        new("websites.cleaned", 8, 6, "category", ["pornography", "gambling"]),
        new("websites.deregistered", 7, 8, null, []),
        new("accounts.interviewed", 7, 3, null, []),
        new("reports.political", 25, 400, null, []),
        new("reports.tianjin", 25, 600, null, []),
    ];

    private static readonly string[] Parameters =
        ["$id", "$metric", "$day", "$quantity", "$unit", "$campaign", "$dimensions", "$recorded", "$voided", "$reason"];

    public static int Run(string path, int count, int seed)
    {
        var clock = Stopwatch.StartNew();
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            File.Delete(file);
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = $"Data Source={path}" })
            .Build();
        Migrator.Migrate(new Database(configuration), NullLogger.Instance);

        using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        connection.Execute("PRAGMA synchronous = OFF; PRAGMA cache_size = -1048576; PRAGMA temp_store = MEMORY;");
        var units = AddCatalog(connection);

        // Secondary indexes are dropped for the load and recreated from their own SQL: the same schema, built faster.
        var indexes = connection.Query<(string Name, string Sql)>(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND sql IS NOT NULL").ToList();
        foreach (var (name, _) in indexes)
            connection.Execute($"DROP INDEX {name}");
        InsertEvents(connection, units, count, seed);
        Console.WriteLine($"  {count:N0} events inserted after {clock.Elapsed.TotalSeconds:F0} s");
        foreach (var (_, sql) in indexes)
            connection.Execute(sql);
        Console.WriteLine($"  indexes rebuilt after {clock.Elapsed.TotalSeconds:F0} s");

        connection.Execute(
            """
            INSERT INTO daily_rollups (metric, day, org_unit, campaign, dimensions, value, events)
            SELECT metric, occurred_on, org_unit, coalesce(campaign, ''), dimensions, sum(quantity), count(*)
            FROM events WHERE voided_at IS NULL
            GROUP BY metric, occurred_on, org_unit, coalesce(campaign, ''), dimensions;
            INSERT INTO monthly_rollups (metric, month, org_unit, campaign, dimensions, value, events)
            SELECT metric, substr(day, 1, 7), org_unit, campaign, dimensions, sum(value), sum(events)
            FROM daily_rollups
            GROUP BY metric, substr(day, 1, 7), org_unit, campaign, dimensions;
            INSERT INTO monthly_unit_rollups (metric, month, org_unit, value, events)
            SELECT metric, month, org_unit, sum(value), sum(events)
            FROM monthly_rollups
            GROUP BY metric, month, org_unit;
            """, commandTimeout: 0);
        connection.Execute("PRAGMA wal_checkpoint(TRUNCATE);");
        var daily = connection.ExecuteScalar<long>("SELECT count(*) FROM daily_rollups");
        var monthly = connection.ExecuteScalar<long>("SELECT count(*) FROM monthly_rollups");
        Console.WriteLine($"  rollups built after {clock.Elapsed.TotalSeconds:F0} s: {daily:N0} daily rows, {monthly:N0} monthly rows");
        return 0;
    }

    private static List<string> AddCatalog(SqliteConnection connection)
    {
        var now = Instant.ToStorage(DateTimeOffset.UtcNow);
        using var transaction = connection.BeginTransaction();
        var position = connection.ExecuteScalar<int>("SELECT max(position) FROM org_units", transaction: transaction);
        void AddUnit(string code, string name, string parent)
        {
            connection.Execute(
                """
                INSERT INTO org_units (code, name, parent, position, created_at, updated_at) VALUES (@code, @name, @parent, @position, @now, @now);
                INSERT INTO org_unit_closure (ancestor, descendant, depth)
                SELECT @code, @code, 0 UNION ALL SELECT ancestor, @code, depth + 1 FROM org_unit_closure WHERE descendant = @parent;
                """, new { code, name, parent, position = ++position, now }, transaction);
        }
        foreach (var district in Districts)
            AddUnit(district, district + "区", "tianjin");
        foreach (var street in HedongStreets)
            AddUnit(street, street + "街道", "hedong");
        var campaignPosition = 0;
        foreach (var campaign in Campaigns)
        {
            connection.Execute(
                """
                INSERT INTO campaigns (code, name, starts_on, ends_on, position, created_at, updated_at)
                VALUES (@campaign, @campaign, '2020-01-01', '2024-12-31', @position, @now, @now)
                """, new { campaign, position = ++campaignPosition, now }, transaction);
        }
        transaction.Commit();
        return ["tianjin", "hedong", .. Districts, .. HedongStreets];
    }

    private static void InsertEvents(SqliteConnection connection, List<string> units, int count, int seed)
    {
        const int chunk = 200_000;
        var random = new Random(seed);
        var ids = new IdGenerator(TimeProvider.System);
        var firstDay = new DateOnly(2020, 1, 1);
        var days = new DateOnly(2024, 12, 31).DayNumber - firstDay.DayNumber + 1;
        var dayText = Enumerable.Range(0, days).Select(d => Day.ToStorage(firstDay.AddDays(d))).ToArray();
        var weights = Metrics.SelectMany(m => Enumerable.Repeat(m, m.Weight)).ToArray();
        var dimensionsJson = Metrics.ToDictionary(m => m.Code, m => m.Values.Select(v =>
            JsonSerializer.Serialize(new SortedDictionary<string, string> { [m.DimensionKey!] = v })).ToArray());

        using var command = connection.CreateCommand();
        command.CommandText =
            """
            INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, source,
                                recorded_at, voided_at, void_reason)
            VALUES ($id, $metric, $day, $quantity, $unit, $campaign, $dimensions, 'bench-loader',
                    $recorded, $voided, $reason)
            """;
        var p = Parameters.ToDictionary(n => n, n => command.Parameters.Add(new SqliteParameter { ParameterName = n }));
        command.Prepare();

        for (var done = 0; done < count;)
        {
            using var transaction = connection.BeginTransaction();
            command.Transaction = transaction;
            var recorded = Instant.ToStorage(DateTimeOffset.UtcNow);
            var voided = Instant.ToStorage(DateTimeOffset.UtcNow.AddMilliseconds(1));
            for (var i = 0; i < chunk && done < count; i++, done++)
            {
                var metric = weights[random.Next(weights.Length)];
                p["$id"].Value = ids.Next("evt_");
                p["$metric"].Value = metric.Code;
                p["$day"].Value = dayText[random.Next(days)];
                p["$quantity"].Value = random.Next(1, metric.MaxQuantity + 1);
                p["$unit"].Value = units[random.Next(units.Count)];
                p["$campaign"].Value = random.Next(5) == 0 ? Campaigns[random.Next(Campaigns.Length)] : DBNull.Value;
                p["$dimensions"].Value = metric.DimensionKey is not null && random.Next(5) != 0
                    ? dimensionsJson[metric.Code][random.Next(metric.Values.Length)]
                    : "{}";
                p["$recorded"].Value = recorded;
                var isVoided = random.Next(200) == 0;
                p["$voided"].Value = isVoided ? voided : DBNull.Value;
                p["$reason"].Value = isVoided ? "bench correction" : DBNull.Value;
                command.ExecuteNonQuery();
            }
            transaction.Commit();
            if (done % 2_000_000 == 0 || done == count)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {done:N0} events"));
        }
    }
}
