using Dapper;
using Microsoft.Data.Sqlite;

namespace Tally.Api.Ledger;

/// <summary>
/// Completes migration 0120 on a database that had events: SQLite has no SHA-256, so the kept digest's limbs of
/// asof_unit_rollups are computed here, once, by the writer at start before it takes any command (one pass over the
/// events, one transaction). asof_digest_pending marks a database that still needs it.
/// </summary>
public static class AsOfBackfill
{
    public static void FillDigests(SqliteConnection connection, ILogger logger)
    {
        if (connection.ExecuteScalar<long>("SELECT count(*) FROM asof_digest_pending") == 0)
            return;
        using var transaction = connection.BeginTransaction();
        var sums = new Dictionary<(string Metric, string Month, string OrgUnit, string Hour), long[]>();
        void AddTo((string, string, string, string) key, string id, long quantity, int sign)
        {
            if (!sums.TryGetValue(key, out var limbs))
                sums[key] = limbs = new long[SetDigest.Limbs];
            Span<long> one = stackalloc long[SetDigest.Limbs];
            SetDigest.Of(id, quantity, one);
            for (var i = 0; i < one.Length; i++)
                limbs[i] += sign * one[i];
        }
        using (var reader = connection.ExecuteReader(
            "SELECT id, metric, substr(occurred_on, 1, 7), org_unit, quantity, recorded_at, voided_at FROM events", transaction: transaction))
        {
            while (reader.Read())
            {
                var (id, metric, month, unit, quantity) = (reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetInt64(4));
                AddTo((metric, month, unit, AsOfCut.HourOf(reader.GetString(5))), id, quantity, 1);
                if (!reader.IsDBNull(6))
                    AddTo((metric, month, unit, AsOfCut.HourOf(reader.GetString(6))), id, quantity, -1);
            }
        }
        using var update = connection.CreateCommand();
        update.Transaction = transaction;
        update.CommandText =
            """
            UPDATE asof_unit_rollups SET d0 = $d0, d1 = $d1, d2 = $d2, d3 = $d3, d4 = $d4, d5 = $d5, d6 = $d6, d7 = $d7
            WHERE metric = $metric AND month = $month AND org_unit = $orgUnit AND hour = $hour
            """;
        var names = new[] { "$metric", "$month", "$orgUnit", "$hour", "$d0", "$d1", "$d2", "$d3", "$d4", "$d5", "$d6", "$d7" };
        var p = names.Select(n => update.Parameters.Add(new SqliteParameter { ParameterName = n })).ToArray();
        foreach (var ((metric, month, unit, hour), limbs) in sums)
        {
            (p[0].Value, p[1].Value, p[2].Value, p[3].Value) = (metric, month, unit, hour);
            for (var i = 0; i < limbs.Length; i++)
                p[4 + i].Value = limbs[i];
            update.ExecuteNonQuery();
        }
        connection.Execute("DELETE FROM asof_digest_pending", transaction: transaction);
        transaction.Commit();
        logger.LogInformation("As-of rollups: kept digests filled in for {Rows} rows", sums.Count);
    }
}
