using System.Data.Common;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// Where an instant falls in the ledger's commit order. Events are keyed inside by <c>seq</c> (their rowid, in commit
/// order), and recorded_at never decreases along seq (each group's instant is later than the one before, and a group
/// commits whole), so the events recorded at or before an instant are a prefix of seq: found by a binary search of
/// about log2(n) rowid seeks, with no index on recorded_at.
/// </summary>
public static class EventSeq
{
    /// <summary>
    /// The seq of the last event recorded at or before <paramref name="instant"/> (0 when there is none): events
    /// recorded after it are exactly those with a larger seq, in the snapshot of <paramref name="transaction"/>.
    /// </summary>
    public static async Task<long> LastRecordedThroughAsync(DbConnection connection, DateTimeOffset instant,
        DbTransaction? transaction, CancellationToken ct)
    {
        var at = Instant.ToStorage(instant);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT seq, recorded_at FROM events WHERE seq >= $mid ORDER BY seq LIMIT 1";
        var mid = command.CreateParameter();
        mid.ParameterName = "$mid";
        command.Parameters.Add(mid);

        await using var max = connection.CreateCommand();
        max.Transaction = transaction;
        max.CommandText = "SELECT coalesce(max(seq), 0) FROM events";
        long low = 0, high = Convert.ToInt64(await max.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        // The answer lies in [low, high]; low is 0 or an event recorded at or before the instant.
        while (low < high)
        {
            mid.Value = low + ((high - low + 1) / 2);
            await using var reader = await command.ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct))
                break;
            var seq = reader.GetInt64(0);
            if (string.CompareOrdinal(reader.GetString(1), at) <= 0)
                low = seq;
            else
                high = (long)mid.Value - 1;
        }
        return low;
    }
}
