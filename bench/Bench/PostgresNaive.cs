using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Tally.Bench;

/// <summary>
/// The naive PostgreSQL app a user would write by hand (bench/postgres.sh): one plain table with a bigserial key and a
/// unique (source, external_id); a bare minimal API doing one autocommit INSERT … ON CONFLICT DO NOTHING per request
/// (durable: the server's default synchronous_commit); COPY of the batch client's rows for bulk; and the GROUP BY a
/// yearly total is over that table.
/// </summary>
public static class PostgresNaive
{
    public const string Table =
        """
        CREATE TABLE IF NOT EXISTS naive_events (
            id           bigserial PRIMARY KEY,
            source       text NOT NULL,
            external_id  text NOT NULL,
            metric       text NOT NULL,
            occurred_on  date NOT NULL,
            quantity     bigint NOT NULL,
            org_unit     text NOT NULL,
            dimensions   jsonb NOT NULL,
            note         text NULL,
            recorded_at  timestamptz NOT NULL DEFAULT now(),
            UNIQUE (source, external_id)
        )
        """;

    private sealed record EventIn(string Metric, DateOnly OccurredOn, long Quantity, string OrgUnit,
        JsonElement? Dimensions, string ExternalId, string? Note);

    /// <summary>pg-naive-server --conn C --urls U: POST /events, one INSERT per request.</summary>
    public static async Task<int> ServeAsync(Options options)
    {
        await using var data = NpgsqlDataSource.Create(options.Get("conn"));
        await using (var create = data.CreateCommand(Table))
            await create.ExecuteNonQueryAsync();
        var builder = WebApplication.CreateBuilder();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls(options.Get("urls"));
        var app = builder.Build();
        app.MapGet("/health/ready", () => Results.Ok());
        app.MapPost("/events", async (EventIn e) =>
        {
            await using var insert = data.CreateCommand(
                """
                INSERT INTO naive_events (source, external_id, metric, occurred_on, quantity, org_unit, dimensions, note)
                VALUES ('bench', $1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source, external_id) DO NOTHING
                """);
            insert.Parameters.Add(new NpgsqlParameter { Value = e.ExternalId });
            insert.Parameters.Add(new NpgsqlParameter { Value = e.Metric });
            insert.Parameters.Add(new NpgsqlParameter { Value = e.OccurredOn });
            insert.Parameters.Add(new NpgsqlParameter { Value = e.Quantity });
            insert.Parameters.Add(new NpgsqlParameter { Value = e.OrgUnit });
            insert.Parameters.Add(new NpgsqlParameter { Value = e.Dimensions?.GetRawText() ?? "{}", NpgsqlDbType = NpgsqlDbType.Jsonb });
            insert.Parameters.Add(new NpgsqlParameter { Value = (object?)e.Note ?? DBNull.Value });
            var stored = await insert.ExecuteNonQueryAsync();
            return stored == 1 ? Results.Created() : Results.Ok();
        });
        await app.RunAsync();
        return 0;
    }

    /// <summary>pg-copy --conn C --rows N: the batch client's N rows, COPY (binary) into an empty naive table; rows/s.</summary>
    public static int Copy(Options options)
    {
        var total = options.Number("rows", 1_000_000);
        using var data = NpgsqlDataSource.Create(options.Get("conn"));
        using var connection = data.OpenConnection();
        using (var create = new NpgsqlCommand(Table + "; TRUNCATE naive_events", connection))
            create.ExecuteNonQuery();
        var clock = Stopwatch.StartNew();
        using (var copy = connection.BeginBinaryImport(
                   "COPY naive_events (source, external_id, metric, occurred_on, quantity, org_unit, dimensions, note) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < total; i++)
            {
                var row = Rows.Of(i);
                copy.StartRow();
                copy.Write("bench", NpgsqlDbType.Text);
                copy.Write("copy-" + i.ToString(CultureInfo.InvariantCulture), NpgsqlDbType.Text);
                copy.Write(row.Metric, NpgsqlDbType.Text);
                copy.Write(DateOnly.ParseExact(row.OccurredOn, "yyyy-MM-dd", CultureInfo.InvariantCulture), NpgsqlDbType.Date);
                copy.Write(row.Quantity, NpgsqlDbType.Bigint);
                copy.Write("hedong", NpgsqlDbType.Text);
                copy.Write(Rows.DimensionsJson(row.DimensionKey, row.DimensionValue), NpgsqlDbType.Jsonb);
                copy.Write("bench", NpgsqlDbType.Text);
            }
            copy.Complete();
        }
        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(FormattableString.Invariant($"copy rows={total} seconds={seconds:F2} rows_per_s={total / seconds:F0}"));
        return 0;
    }

    /// <summary>pg-scan --conn C --runs N: the yearly totals by metric as one GROUP BY over the naive table; median ms.</summary>
    public static int Scan(Options options)
    {
        var runs = options.Number("runs", 50);
        using var data = NpgsqlDataSource.Create(options.Get("conn"));
        using var connection = data.OpenConnection();
        var times = new List<double>();
        for (var run = 0; run < runs + 3; run++)
        {
            using var scan = new NpgsqlCommand(
                """
                SELECT metric, sum(quantity) FROM naive_events
                WHERE occurred_on >= DATE '2024-01-01' AND occurred_on < DATE '2025-01-01' GROUP BY metric
                """, connection);
            var clock = Stopwatch.StartNew();
            using (var reader = scan.ExecuteReader())
                while (reader.Read())
                {
                }
            if (run >= 3)
                times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        Console.WriteLine(FormattableString.Invariant($"scan runs={runs} median_ms={times[times.Count / 2]:F2} p90_ms={times[times.Count * 9 / 10]:F2}"));
        return 0;
    }
}
