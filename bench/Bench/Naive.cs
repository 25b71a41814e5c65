using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Tally.Bench;

/// <summary>
/// The naive baselines of issue 13, what a user would write by hand: one table with an integer key, a unique
/// (source, external_id) and a (metric, day) index; no rollups, no audit, no checks.
/// </summary>
public static class NaiveTable
{
    public static void Create(string databasePath)
    {
        using var connection = Schema.OpenFresh(databasePath);
        using var command = connection.CreateCommand();
        command.CommandText =
            """
            CREATE TABLE events (
                id          INTEGER PRIMARY KEY,
                source      TEXT NOT NULL,
                external_id TEXT,
                metric      TEXT NOT NULL,
                day         TEXT NOT NULL,
                quantity    INTEGER NOT NULL,
                org_unit    TEXT NOT NULL,
                dimensions  TEXT,
                note        TEXT,
                recorded_at TEXT NOT NULL
            );
            CREATE UNIQUE INDEX ux_events_source_external ON events(source, external_id);
            CREATE INDEX ix_events_metric_day ON events(metric, day);
            """;
        command.ExecuteNonQuery();
    }

    public const string Insert =
        """
        INSERT INTO events (source, external_id, metric, day, quantity, org_unit, dimensions, note, recorded_at)
        VALUES ($source, $externalId, $metric, $day, $quantity, $unit, $dimensions, $note, $at)
        """;

    public static string Now() => DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
}

/// <summary>
/// (a) The naive non-durable minimal API: one INSERT per request (autocommit) on a pooled connection,
/// synchronous=NORMAL, no auth, no validation.
/// </summary>
public static class NaiveServer
{
    public sealed record Body(string Metric, string OccurredOn, long Quantity, string OrgUnit,
        Dictionary<string, string>? Dimensions, string? ExternalId, string? Note);

    public static async Task<int> RunAsync(Options options)
    {
        var databasePath = options.Get("db");
        NaiveTable.Create(databasePath);
        var connectionString = $"Data Source={databasePath}";
        var app = BaselineServer.Slim(options.Get("urls"));
        app.MapPost("/events", (Body body) =>
        {
            using var connection = new SqliteConnection(connectionString);
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL; " + NaiveTable.Insert + " RETURNING id";
            command.Parameters.AddWithValue("$source", "bench");
            command.Parameters.AddWithValue("$externalId", (object?)body.ExternalId ?? DBNull.Value);
            command.Parameters.AddWithValue("$metric", body.Metric);
            command.Parameters.AddWithValue("$day", body.OccurredOn);
            command.Parameters.AddWithValue("$quantity", body.Quantity);
            command.Parameters.AddWithValue("$unit", body.OrgUnit);
            command.Parameters.AddWithValue("$dimensions",
                body.Dimensions is { Count: > 0 } d ? System.Text.Json.JsonSerializer.Serialize(d) : "{}");
            command.Parameters.AddWithValue("$note", (object?)body.Note ?? DBNull.Value);
            command.Parameters.AddWithValue("$at", NaiveTable.Now());
            var id = (long)command.ExecuteScalar()!;
            return Results.Created($"/events/{id}", new { id });
        });
        await app.RunAsync();
        return 0;
    }
}

/// <summary>
/// (b) The naive raw in-process insert: one prepared INSERT reused, one transaction per --per rows (10,000),
/// synchronous=FULL, SQLite's default page cache. Rows are those of the batch client (Rows.Of), or with --csv those of
/// an import file (the first --rows data rows), read into memory before the clock starts. After the insert:
/// PRAGMA wal_checkpoint(TRUNCATE) and the file's size per row.
/// </summary>
public static class NaiveInsert
{
    private sealed record Row(string Source, string ExternalId, string Metric, string Day, long Quantity, string Unit, string Dimensions);

    public static int Run(Options options)
    {
        var databasePath = options.Get("db");
        var total = options.Number("rows", 1_000_000);
        var per = options.Number("per", 10_000);
        var run = options.Get("run", "raw");
        var csv = options.Get("csv", "");
        var rows = csv.Length > 0 ? FromCsv(csv, total) : FromGenerator(run, total);
        if (rows.Count != total)
            throw new InvalidOperationException($"{csv} has {rows.Count} data rows, not {total}");
        NaiveTable.Create(databasePath);
        using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA synchronous = FULL;";
            pragma.ExecuteNonQuery();
        }
        using var insert = connection.CreateCommand();
        insert.CommandText = NaiveTable.Insert;
        var source = insert.Parameters.Add("$source", SqliteType.Text);
        var externalId = insert.Parameters.Add("$externalId", SqliteType.Text);
        var metric = insert.Parameters.Add("$metric", SqliteType.Text);
        var day = insert.Parameters.Add("$day", SqliteType.Text);
        var quantity = insert.Parameters.Add("$quantity", SqliteType.Integer);
        var unit = insert.Parameters.Add("$unit", SqliteType.Text);
        var dimensions = insert.Parameters.Add("$dimensions", SqliteType.Text);
        insert.Parameters.AddWithValue("$note", "bench");
        var at = insert.Parameters.Add("$at", SqliteType.Text);

        var clock = Stopwatch.StartNew();
        for (var start = 0; start < total; start += per)
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            insert.Transaction = transaction;
            at.Value = NaiveTable.Now();
            for (var i = start; i < Math.Min(total, start + per); i++)
            {
                var row = rows[i];
                source.Value = row.Source;
                externalId.Value = row.ExternalId;
                metric.Value = row.Metric;
                day.Value = row.Day;
                quantity.Value = row.Quantity;
                unit.Value = row.Unit;
                dimensions.Value = row.Dimensions;
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        var seconds = clock.Elapsed.TotalSeconds;
        using (var checkpoint = connection.CreateCommand())
        {
            checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
            checkpoint.ExecuteNonQuery();
        }
        var bytes = new FileInfo(databasePath).Length + (File.Exists(databasePath + "-wal") ? new FileInfo(databasePath + "-wal").Length : 0);
        Console.WriteLine(FormattableString.Invariant(
            $"naive-insert rows={total} seconds={seconds:F2} rows_per_s={total / seconds:F0} db_bytes={bytes} bytes_per_row={(double)bytes / total:F1}"));
        return 0;
    }

    private static List<Row> FromGenerator(string run, int total)
    {
        var rows = new List<Row>(total);
        for (var i = 0; i < total; i++)
        {
            var row = Rows.Of(i);
            rows.Add(new Row("bench", $"{run}-{i}", row.Metric, row.OccurredOn, row.Quantity, "hedong",
                Rows.DimensionsJson(row.DimensionKey, row.DimensionValue)));
        }
        return rows;
    }

    /// <summary>The import files of make_import_files.py: 指标,日期,数量,填报单位,外部编号 (no quoting needed).</summary>
    private static List<Row> FromCsv(string path, int total)
    {
        var rows = new List<Row>(total);
        foreach (var line in File.ReadLines(path).Skip(1))
        {
            if (rows.Count == total)
                break;
            var f = line.Split(',');
            rows.Add(new Row("bench", f[4], f[0], f[1], long.Parse(f[2], CultureInfo.InvariantCulture), f[3], "{}"));
        }
        return rows;
    }
}
