using Dapper;
using System.Data.Common;

namespace Tally.Api.Ledger;

/// <summary>
/// Completes the as-of rollups on a database that had events when they were made (migrations 0120 and 0130): SQLite
/// has no SHA-256, so the kept digest's limbs of the asof_unit_*_rollups are added here, once, by the writer at start
/// before it takes any command, in one transaction. asof_digest_pending marks a database that still needs it.
/// <para>
/// Memory stays flat whatever the ledger's size: the recordings are read in seq order, which is recorded_at order, and
/// the voids in voided_at order (asof_voids' key), so each level's sums are held for one bucket at a time (one hour,
/// day or month of changes) and added to the stored rows when the next bucket begins. Both are read in pages of
/// <see cref="DefaultPage"/> rows by key, each page read whole before its sums are written: one connection cannot interleave
/// a reader and updates on PostgreSQL (Npgsql: a command is already in progress), and a page keeps memory bounded.
/// </para>
/// </summary>
public static class AsOfBackfill
{
    /// <summary>Fills the kept digests' limbs in when the database is marked pending; <paramref name="page"/> rows read at a time.</summary>
    public static void FillDigests(DbConnection connection, ILogger logger, int page = DefaultPage)
    {
        if (connection.ExecuteScalar<long>("SELECT count(*) FROM asof_digest_pending") == 0)
            return;
        using var transaction = connection.BeginTransaction();
        using var months = new LevelSums(connection, transaction, "asof_unit_month_rollups", AsOfCut.MonthOf);
        using var days = new LevelSums(connection, transaction, "asof_unit_day_rollups", AsOfCut.DayOf);
        using var hours = new LevelSums(connection, transaction, "asof_unit_hour_rollups", AsOfCut.HourOf);
        LevelSums[] levels = [months, days, hours];
        var limbs = new long[SetDigest.Limbs];
        // One walk per kind of change, a page at a time by key: each page's keyset names where the next one starts.
        void Walk(string sql, object first, Func<Change, object> after, int sign)
        {
            for (var args = first; ;)
            {
                var rows = connection.Query<Change>(sql, args, transaction).ToList();
                foreach (var change in rows)
                {
                    SetDigest.Of(change.Id, change.Quantity, limbs);
                    foreach (var level in levels)
                        level.Add(change.ChangedAt, (change.Metric, change.Month, change.OrgUnit), limbs, sign);
                }
                if (rows.Count < page)
                    break;
                args = after(rows[^1]);
            }
            foreach (var level in levels)
                level.Flush();
        }

        Walk("""
             SELECT seq AS Seq, id AS Id, metric AS Metric, substr(occurred_on, 1, 7) AS Month, org_unit AS OrgUnit,
                    quantity AS Quantity, recorded_at AS ChangedAt
             FROM events WHERE seq > @seq ORDER BY seq LIMIT @page
             """, new { seq = 0L, page }, last => new { seq = last.Seq, page }, +1);
        Walk("""
             SELECT e.id AS Id, e.metric AS Metric, substr(e.occurred_on, 1, 7) AS Month, e.org_unit AS OrgUnit,
                    e.quantity AS Quantity, v.voided_at AS ChangedAt
             FROM asof_voids v JOIN events e ON e.id = v.event_id
             WHERE (v.voided_at, v.event_id) > (@at, @id)
             ORDER BY v.voided_at, v.event_id LIMIT @page
             """, new { at = "", id = "", page }, last => new { at = last.ChangedAt, id = last.Id, page }, -1);
        connection.Execute("DELETE FROM asof_digest_pending", transaction: transaction);
        transaction.Commit();
        logger.LogInformation("As-of rollups: kept digests filled in for {Rows} rows", levels.Sum(l => l.Written));
    }

    /// <summary>Rows per page read at start.</summary>
    public const int DefaultPage = 10_000;

    /// <summary>A recording (+1 at recorded_at) or a void (-1 at voided_at) of one event.</summary>
    private sealed class Change
    {
        public long Seq { get; init; }
        public string Id { get; init; } = "";
        public string Metric { get; init; } = "";
        public string Month { get; init; } = "";
        public string OrgUnit { get; init; } = "";
        public long Quantity { get; init; }
        public string ChangedAt { get; init; } = "";
    }

    /// <summary>One level's limb sums for the bucket being read, added to its stored rows when the bucket ends.</summary>
    private sealed class LevelSums : IDisposable
    {
        private readonly Func<string, string> _bucketOf;
        private readonly Dictionary<(string Metric, string Month, string OrgUnit), long[]> _sums = [];
        private readonly DbCommand _update;
        private readonly DbParameter[] _parameters;
        private string? _bucket;

        public LevelSums(DbConnection connection, DbTransaction transaction, string table, Func<string, string> bucketOf)
        {
            _bucketOf = bucketOf;
            _update = connection.CreateCommand();
            _update.Transaction = transaction;
            _update.CommandText =
                $"""
                UPDATE {table} SET d0 = d0 + @d0, d1 = d1 + @d1, d2 = d2 + @d2, d3 = d3 + @d3,
                                   d4 = d4 + @d4, d5 = d5 + @d5, d6 = d6 + @d6, d7 = d7 + @d7
                WHERE changed = @changed AND metric = @metric AND month = @month AND org_unit = @orgUnit
                """;
            string[] names = ["@changed", "@metric", "@month", "@orgUnit", "@d0", "@d1", "@d2", "@d3", "@d4", "@d5", "@d6", "@d7"];
            _parameters = names.Select(n =>
            {
                var parameter = _update.CreateParameter();
                parameter.ParameterName = n;
                _update.Parameters.Add(parameter);
                return parameter;
            }).ToArray();
        }

        public long Written { get; private set; }

        public void Add(string changedAt, (string, string, string) key, ReadOnlySpan<long> limbs, int sign)
        {
            var bucket = _bucketOf(changedAt);
            if (bucket != _bucket)
            {
                Flush();
                _bucket = bucket;
            }
            if (!_sums.TryGetValue(key, out var sums))
                _sums[key] = sums = new long[SetDigest.Limbs];
            for (var i = 0; i < sums.Length; i++)
                sums[i] += sign * limbs[i];
        }

        public void Flush()
        {
            foreach (var ((metric, month, unit), sums) in _sums)
            {
                (_parameters[0].Value, _parameters[1].Value, _parameters[2].Value, _parameters[3].Value) = (_bucket, metric, month, unit);
                for (var i = 0; i < sums.Length; i++)
                    _parameters[4 + i].Value = sums[i];
                _update.ExecuteNonQuery();
                Written++;
            }
            _sums.Clear();
        }

        public void Dispose() => _update.Dispose();
    }
}
