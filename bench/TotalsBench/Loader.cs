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
/// its 16 districts, three streets of Hedong), the 9 seeded metrics with their dimensions, 4 campaigns, 2020 to 2024.
/// Events are written in seq order as the writer would have recorded them over five years: recorded_at spread evenly
/// from <see cref="FirstRecorded"/> to <see cref="LoadEnd"/> and never decreasing along seq (Api/Ledger/EventSeq.cs
/// relies on it), ids minted at their recording instant, occurred_on 0-14 days before the recording (clamped to
/// 2020-2024). 0.5% are voided 1 hour to 60 days after their recording (before the load's end), each void also in
/// asof_voids. Then everything the writer keeps beside the events is built from them by GROUP BYs: the rollups of
/// active events, unit_month_recordings, and the as-of rollups at their three levels (+1 at the recording's month,
/// day and hour, -1 at the void's), which is the state EventLedger keeps event by event (the property tests check
/// that equality); the kept digest's limbs are left to the server's start (asof_digest_pending). The catalog's
/// history is backdated to <see cref="CatalogSince"/>, so a read as of any instant of the load sees the whole
/// catalog. The API's answers are compared with a scan anyway.
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

    /// <summary>The first recording, and the end of the load: every recorded_at and voided_at lies in [first, end).</summary>
    public static readonly DateTimeOffset FirstRecorded = new(2020, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static readonly DateTimeOffset LoadEnd = new(2025, 1, 10, 0, 0, 0, TimeSpan.Zero);

    /// <summary>When the catalog (org units, campaigns, the seeded metrics' current states) is said to have been written.</summary>
    public const string CatalogSince = "2019-12-01T00:00:00.0000000Z";

    private static readonly DateOnly FirstDay = new(2020, 1, 1);
    private static readonly DateOnly LastDay = new(2024, 12, 31);

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

        // Foreign keys off: ux_events_id (the parent key of supersedes/superseded_by) is dropped during the load.
        using var connection = new SqliteConnection($"Data Source={path};Pooling=False;Foreign Keys=False");
        connection.Open();
        connection.Execute("PRAGMA synchronous = OFF; PRAGMA cache_size = -1048576; PRAGMA temp_store = MEMORY;");
        var units = AddCatalog(connection);
        BackdateCatalog(connection);

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
            INSERT INTO unit_month_recordings (metric, month, org_unit, first_recorded_at, last_recorded_at)
            SELECT metric, substr(occurred_on, 1, 7), org_unit, min(recorded_at), max(recorded_at)
            FROM events WHERE voided_at IS NULL
            GROUP BY metric, substr(occurred_on, 1, 7), org_unit;
            """, commandTimeout: 0);
        var daily = connection.ExecuteScalar<long>("SELECT count(*) FROM daily_rollups");
        var monthly = connection.ExecuteScalar<long>("SELECT count(*) FROM monthly_rollups");
        Console.WriteLine($"  rollups built after {clock.Elapsed.TotalSeconds:F0} s: {daily:N0} daily rows, {monthly:N0} monthly rows");

        BuildAsOfRollups(connection);
        connection.Execute("PRAGMA wal_checkpoint(TRUNCATE);");
        var hours = connection.ExecuteScalar<long>("SELECT count(*) FROM asof_hour_rollups");
        var days = connection.ExecuteScalar<long>("SELECT count(*) FROM asof_day_rollups");
        var months = connection.ExecuteScalar<long>("SELECT count(*) FROM asof_month_rollups");
        Console.WriteLine($"  as-of rollups built after {clock.Elapsed.TotalSeconds:F0} s: {hours:N0} hour, {days:N0} day, {months:N0} month rows");
        return 0;
    }

    private static List<string> AddCatalog(SqliteConnection connection)
    {
        var now = CatalogSince;
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

    /// <summary>
    /// The seeded catalog was written at migration time (the migrations' own instants, some after 2024): says it stood
    /// as it is now from <see cref="CatalogSince"/> on. Every metric's current state becomes its state from then
    /// (metric_history, which a report as of an instant reads), any later state of the history is dropped, and org units,
    /// metrics and campaigns carry that instant as created and updated.
    /// </summary>
    private static void BackdateCatalog(SqliteConnection connection)
    {
        using var transaction = connection.BeginTransaction();
        connection.Execute(
            """
            UPDATE metrics SET created_at = @since, updated_at = @since;
            DELETE FROM metric_history WHERE valid_from > @since;
            UPDATE org_units SET created_at = @since, updated_at = @since;
            UPDATE campaigns SET created_at = @since, updated_at = @since;
            """, new { since = CatalogSince }, transaction);
        transaction.Commit();
    }

    /// <summary>
    /// The as-of rollups of every event: +quantity, +1 at the month, day and hour (the first 7, 10 and 13 characters of
    /// the storage instant) of its recorded_at, and -quantity, -1 at those of its voided_at; the unit levels are the sums
    /// of the levels with campaign and dimensions, with limbs 0 and the digest left pending for the server's start.
    /// </summary>
    private static void BuildAsOfRollups(SqliteConnection connection)
    {
        const string changes =
            """
            SELECT substr(recorded_at, 1, {0}) AS changed, metric, substr(occurred_on, 1, 7) AS month, org_unit,
                   coalesce(campaign, '') AS campaign, dimensions, quantity AS value, 1 AS events
            FROM events
            UNION ALL
            SELECT substr(voided_at, 1, {0}), metric, substr(occurred_on, 1, 7), org_unit, coalesce(campaign, ''), dimensions,
                   -quantity, -1
            FROM events WHERE voided_at IS NOT NULL
            """;
        using var transaction = connection.BeginTransaction();
        foreach (var (table, width) in new[] { ("asof_hour_rollups", 13), ("asof_day_rollups", 10) })
        {
            connection.Execute(
                $"""
                INSERT INTO {table} (changed, metric, month, org_unit, campaign, dimensions, value, events)
                SELECT changed, metric, month, org_unit, campaign, dimensions, sum(value), sum(events)
                FROM ({string.Format(CultureInfo.InvariantCulture, changes, width)})
                GROUP BY changed, metric, month, org_unit, campaign, dimensions
                """, transaction: transaction, commandTimeout: 0);
        }
        // The month level from the day level (a tenth of its rows), as migration 0130 derives its levels.
        connection.Execute(
            """
            INSERT INTO asof_month_rollups (metric, month, org_unit, campaign, dimensions, changed, value, events)
            SELECT metric, month, org_unit, campaign, dimensions, substr(changed, 1, 7), sum(value), sum(events)
            FROM asof_day_rollups
            GROUP BY metric, month, org_unit, campaign, dimensions, substr(changed, 1, 7);
            INSERT INTO asof_unit_hour_rollups (changed, metric, month, org_unit, value, events, d0, d1, d2, d3, d4, d5, d6, d7)
            SELECT changed, metric, month, org_unit, sum(value), sum(events), 0, 0, 0, 0, 0, 0, 0, 0
            FROM asof_hour_rollups GROUP BY changed, metric, month, org_unit;
            INSERT INTO asof_unit_day_rollups (changed, metric, month, org_unit, value, events, d0, d1, d2, d3, d4, d5, d6, d7)
            SELECT changed, metric, month, org_unit, sum(value), sum(events), 0, 0, 0, 0, 0, 0, 0, 0
            FROM asof_day_rollups GROUP BY changed, metric, month, org_unit;
            INSERT INTO asof_unit_month_rollups (metric, month, org_unit, changed, value, events, d0, d1, d2, d3, d4, d5, d6, d7)
            SELECT metric, month, org_unit, changed, sum(value), sum(events), 0, 0, 0, 0, 0, 0, 0, 0
            FROM asof_month_rollups GROUP BY metric, month, org_unit, changed;
            INSERT OR IGNORE INTO asof_digest_pending (one) VALUES (1);
            -- Every change is in the day and month levels already: the writer's fold starts after the last hour.
            UPDATE asof_folded SET through = coalesce(
                strftime('%Y-%m-%dT%H', (SELECT max(changed) FROM asof_hour_rollups) || ':00:00', '+1 hour'), '0001-01-01T00');
            """, transaction: transaction, commandTimeout: 0);
        transaction.Commit();
    }

    /// <summary>A clock set to each event's recording instant, so its id is minted then (ids grow with seq either way).</summary>
    private sealed class RecordingClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static void InsertEvents(SqliteConnection connection, List<string> units, int count, int seed)
    {
        const int chunk = 200_000;
        var random = new Random(seed);
        var clock = new RecordingClock();
        var ids = new IdGenerator(clock);
        var firstDay = FirstDay.DayNumber;
        var lastDay = LastDay.DayNumber;
        var dayText = Enumerable.Range(0, lastDay - firstDay + 1).Select(d => Day.ToStorage(FirstDay.AddDays(d))).ToArray();
        var weights = Metrics.SelectMany(m => Enumerable.Repeat(m, m.Weight)).ToArray();
        var dimensionsJson = Metrics.ToDictionary(m => m.Code, m => m.Values.Select(v =>
            JsonSerializer.Serialize(new SortedDictionary<string, string> { [m.DimensionKey!] = v })).ToArray());
        var span = LoadEnd.UtcTicks - FirstRecorded.UtcTicks;
        var (hour, sixtyDays) = (TimeSpan.FromHours(1).Ticks, TimeSpan.FromDays(60).Ticks);

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
        using var voids = connection.CreateCommand();
        voids.CommandText = "INSERT INTO asof_voids (voided_at, event_id) VALUES ($voided, $id)";
        var voidedAt = voids.Parameters.Add(new SqliteParameter { ParameterName = "$voided" });
        var voidedId = voids.Parameters.Add(new SqliteParameter { ParameterName = "$id" });
        voids.Prepare();

        for (var done = 0; done < count;)
        {
            using var transaction = connection.BeginTransaction();
            command.Transaction = transaction;
            voids.Transaction = transaction;
            for (var i = 0; i < chunk && done < count; i++, done++)
            {
                // Evenly spread and never decreasing along seq; the last one still before LoadEnd.
                var recordedTicks = FirstRecorded.UtcTicks + (long)((Int128)span * done / count);
                var recorded = new DateTimeOffset(recordedTicks, TimeSpan.Zero);
                clock.Now = recorded;
                var id = ids.Next("evt_");
                var recordedDay = DateOnly.FromDateTime(recorded.UtcDateTime).DayNumber;
                var occurred = Math.Clamp(recordedDay - random.Next(15), firstDay, lastDay);
                var metric = weights[random.Next(weights.Length)];
                p["$id"].Value = id;
                p["$metric"].Value = metric.Code;
                p["$day"].Value = dayText[occurred - firstDay];
                p["$quantity"].Value = random.Next(1, metric.MaxQuantity + 1);
                p["$unit"].Value = units[random.Next(units.Count)];
                p["$campaign"].Value = random.Next(5) == 0 ? Campaigns[random.Next(Campaigns.Length)] : DBNull.Value;
                p["$dimensions"].Value = metric.DimensionKey is not null && random.Next(5) != 0
                    ? dimensionsJson[metric.Code][random.Next(metric.Values.Length)]
                    : "{}";
                p["$recorded"].Value = Instant.ToStorage(recorded);
                if (random.Next(200) == 0)
                {
                    // 1 hour to 60 days later, and before the load's end (the last hour's voids: within what is left).
                    var latest = Math.Min(sixtyDays, LoadEnd.UtcTicks - 1 - recordedTicks);
                    var earliest = Math.Min(hour, latest / 2);
                    var voided = Instant.ToStorage(recorded.AddTicks(earliest + random.NextInt64(latest - earliest + 1)));
                    p["$voided"].Value = voided;
                    p["$reason"].Value = "bench correction";
                    (voidedAt.Value, voidedId.Value) = (voided, id);
                    voids.ExecuteNonQuery();
                }
                else
                {
                    p["$voided"].Value = DBNull.Value;
                    p["$reason"].Value = DBNull.Value;
                }
                command.ExecuteNonQuery();
            }
            transaction.Commit();
            if (done % 2_000_000 == 0 || done == count)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {done:N0} events"));
        }
    }
}
