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
                                source, recorded_at)
            VALUES ($id, $metric, $day, $quantity, 'hedong', NULL, $dimensions, $externalId, 'bench', 'bench', $at)
            """;
        var id = insert.Parameters.Add("$id", SqliteType.Text);
        var metric = insert.Parameters.Add("$metric", SqliteType.Text);
        var day = insert.Parameters.Add("$day", SqliteType.Text);
        var quantity = insert.Parameters.Add("$quantity", SqliteType.Integer);
        var dimensions = insert.Parameters.Add("$dimensions", SqliteType.Text);
        var externalId = insert.Parameters.Add("$externalId", SqliteType.Text);
        var at = insert.Parameters.Add("$at", SqliteType.Text);

        // --audit 1: also append an audit row per event, as the ledger must; shows how much of the gap the audit trail is.
        var withAudit = options.Get("audit", "0") == "1";
        using var audit = connection.CreateCommand();
        audit.CommandText =
            """
            INSERT INTO audit_log (seq, at, actor_key_id, actor_name, action, entity, data, prev_hash, hash)
            VALUES ($seq, $at, 'key_bench', 'bench', 'event.created', $entity, $data, $prev, $hash)
            """;
        var seq = audit.Parameters.Add("$seq", SqliteType.Integer);
        var auditAt = audit.Parameters.Add("$at", SqliteType.Text);
        var entity = audit.Parameters.Add("$entity", SqliteType.Text);
        var data = audit.Parameters.Add("$data", SqliteType.Text);
        var prev = audit.Parameters.Add("$prev", SqliteType.Text);
        var hash = audit.Parameters.Add("$hash", SqliteType.Text);
        var previousHash = new string('0', 64);

        var clock = Stopwatch.StartNew();
        for (var start = 0; start < total; start += per)
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            insert.Transaction = transaction;
            audit.Transaction = transaction;
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
                if (withAudit)
                {
                    var json = $$"""{"campaign":null,"dimensions":{{dimensions.Value}},"externalId":"{{externalId.Value}}","id":"{{id.Value}}","metric":"{{row.Metric}}","note":"bench","occurredOn":"{{row.OccurredOn}}","orgUnit":"hedong","quantity":{{row.Quantity}},"recordedAt":"{{recordedAt}}","source":"bench","status":"active","supersededBy":null,"supersedes":null,"voidReason":null,"voidedAt":null}""";
                    var newHash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(previousHash + json)));
                    seq.Value = i + 1L;
                    auditAt.Value = recordedAt;
                    entity.Value = "event:" + id.Value;
                    data.Value = json;
                    prev.Value = previousHash;
                    hash.Value = newHash;
                    audit.ExecuteNonQuery();
                    previousHash = newHash;
                }
            }
            transaction.Commit();
        }
        var seconds = clock.Elapsed.TotalSeconds;
        Console.WriteLine(FormattableString.Invariant($"raw-insert rows={total} audit={withAudit} seconds={seconds:F2} rows_per_s={total / seconds:F0}"));
        return 0;
    }
}
