using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Tally.Bench;

/// <summary>
/// The baseline for batches: the same rows inserted in-process into the same schema and indexes, one prepared statement
/// reused, one transaction per --per rows, synchronous=FULL like the ledger. Events only: no rollups, no audit.
/// </summary>
public static class RawInsert
{
    public static int Run(Options options)
    {
        var databasePath = options.Get("db");
        var total = options.Number("rows", 1_000_000);
        var per = options.Number("per", 10_000);
        var run = options.Get("run", "raw");
        Schema.Create(databasePath, options.Get("migrations"));
        using var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        connection.Open();
        using (var pragmas = connection.CreateCommand())
        {
            // The same pragmas as Tally's writer connection, page cache included (LedgerWriter.WriterCacheKib).
            pragmas.CommandText = "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA cache_size = -65536;";
            pragmas.ExecuteNonQuery();
        }
        using var insert = connection.CreateCommand();
        insert.CommandText =
            """
            INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note,
                                source, key_id, recorded_at)
            VALUES ($id, $metric, $day, $quantity, 'hedong', NULL, $dimensions, $externalId, 'bench', 'bench', 'key_bench', $at)
            """;
        var id = insert.Parameters.Add("$id", SqliteType.Text);
        var metric = insert.Parameters.Add("$metric", SqliteType.Text);
        var day = insert.Parameters.Add("$day", SqliteType.Text);
        var quantity = insert.Parameters.Add("$quantity", SqliteType.Integer);
        var dimensions = insert.Parameters.Add("$dimensions", SqliteType.Text);
        var externalId = insert.Parameters.Add("$externalId", SqliteType.Text);
        var at = insert.Parameters.Add("$at", SqliteType.Text);

        var clock = Stopwatch.StartNew();
        for (var start = 0; start < total; start += per)
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            insert.Transaction = transaction;
            var recordedAt = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
            for (var i = start; i < Math.Min(total, start + per); i++)
            {
                var row = Rows.Of(i);
                id.Value = "evt_" + Guid.CreateVersion7().ToString("N");
                metric.Value = row.Metric;
                day.Value = row.OccurredOn;
                quantity.Value = row.Quantity;
                dimensions.Value = Rows.DimensionsJson(row.DimensionKey, row.DimensionValue);
                externalId.Value = $"{run}-{i}";
                at.Value = recordedAt;
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(FormattableString.Invariant($"raw-insert rows={total} seconds={seconds:F2} rows_per_s={total / seconds:F0}"));
        return 0;
    }
}
