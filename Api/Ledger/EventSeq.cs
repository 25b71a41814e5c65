using System.Data.Common;
using Dapper;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// Where an instant falls in the ledger's commit order. Events are keyed inside by <c>seq</c> (their rowid, in commit
/// order), and recorded_at never decreases along seq (each group's instant is later than the one before, and a group
/// commits whole), so the events recorded before an instant are a prefix of seq: found by a binary search of about
/// log2(n) rowid seeks, with no index on recorded_at. Seq may have gaps; the bounds below are exact as range bounds.
/// </summary>
public static class EventSeq
{
    /// <summary>
    /// The bound between the events recorded before <paramref name="storageInstant"/> (storage form) and those at or
    /// after it, in the snapshot of <paramref name="transaction"/>: every seq below it is before, every seq at or above it
    /// at or after (max seq + 1 when none is).
    /// </summary>
    public static long FirstRecordedAtOrAfter(DbConnection connection, DbTransaction? transaction, string storageInstant)
    {
        // Two subqueries: SQLite reads min() or max() of the rowid from one end of the table only when it is the query's
        // sole aggregate; "SELECT min(seq), max(seq)" scans every event.
        var (low, high) = connection.QuerySingle<(long, long)>(
            "SELECT coalesce((SELECT min(seq) FROM events), 1), coalesce((SELECT max(seq) FROM events), 0) + 1",
            transaction: transaction);
        // The answer lies in [low, high]: every seq below low is recorded before the instant, high is at or after it.
        while (low < high)
        {
            var mid = low + ((high - low) / 2);
            var row = connection.QueryFirstOrDefault<(long Seq, string RecordedAt)?>(
                "SELECT seq, recorded_at FROM events WHERE seq >= @mid ORDER BY seq LIMIT 1", new { mid }, transaction);
            if (row is { } found && string.CompareOrdinal(found.RecordedAt, storageInstant) < 0)
                low = found.Seq + 1;
            else
                high = mid; // the first seq at or past mid is at or after the instant: none lies in [mid, it)
        }
        return high;
    }

    /// <summary>
    /// The seq of the last event recorded at or before <paramref name="instant"/> (0 when there is none): every event
    /// with a larger seq was recorded after it.
    /// </summary>
    public static long LastRecordedThrough(DbConnection connection, DbTransaction? transaction, DateTimeOffset instant)
    {
        var bound = instant == DateTimeOffset.MaxValue
            ? long.MaxValue
            : FirstRecordedAtOrAfter(connection, transaction, Instant.ToStorage(instant.AddTicks(1)));
        return connection.ExecuteScalar<long>("SELECT coalesce(max(seq), 0) FROM events WHERE seq < @bound", new { bound }, transaction);
    }
}
