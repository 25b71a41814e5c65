using Dapper;
using Microsoft.Data.Sqlite;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// Where a read "as of" an instant t cuts the as-of rollups (migration 0120), and the few ledger events that make up
/// the rest: the one place that finds events recorded or voided in a time window.
/// <para>
/// Why it is exact. An event counts as of t when recorded_at &lt;= t and it is not voided by t (voided_at null or
/// later than t); a supersession is a void of the old event at the new one's instant, so it needs nothing more. As
/// voided_at is never before recorded_at, an event's count as of t is [recorded_at &lt;= t] - [voided_at &lt;= t], and any
/// sum over counted events is the sum of the changes (+quantity at recorded_at, -quantity at voided_at) at instants
/// &lt;= t. The rollups keep those changes summed per UTC hour of the change. With H the hour holding t, either
/// (<see cref="Before"/>) the rows of hours before H plus the changes in [start of H, t] read from the ledger, or
/// (otherwise) the rows of hours up to H minus the changes in (t, end of H): whichever reads fewer events. The
/// digest's limbs are sums too, so the same holds for the kept digest. Recordings of a window are a range of seq
/// (recorded_at never decreases along seq: GroupClock); voids are found in asof_voids, the log of voids.
/// </para>
/// </summary>
public sealed record AsOfCut(string Hour, bool Before, long FromSeq, long ToSeq, string VoidFrom, string VoidTo)
{
    /// <summary>The rows a read takes: "hour &lt; @cutHour" or "hour &lt;= @cutHour".</summary>
    public string HourCondition(string column = "hour") => Before ? $"{column} < @cutHour" : $"{column} <= @cutHour";

    /// <summary>+1 when the window's changes are added to the rows taken, -1 when they are taken off.</summary>
    public int Sign => Before ? 1 : -1;

    /// <summary>Events recorded in the window (a seq range, bounds inclusive).</summary>
    public const string RecordedCondition = "seq BETWEEN @cutFromSeq AND @cutToSeq";

    /// <summary>Events voided in the window (half-open text bounds of voided_at), found in asof_voids.</summary>
    public const string VoidedCondition =
        "id IN (SELECT event_id FROM asof_voids WHERE voided_at >= @cutVoidFrom AND voided_at < @cutVoidTo)";

    public void Bind(DynamicParameters parameters)
    {
        parameters.Add("cutHour", Hour);
        parameters.Add("cutFromSeq", FromSeq);
        parameters.Add("cutToSeq", ToSeq);
        parameters.Add("cutVoidFrom", VoidFrom);
        parameters.Add("cutVoidTo", VoidTo);
    }

    /// <summary>The UTC hour of a storage instant: 'yyyy-MM-ddTHH'.</summary>
    public static string HourOf(string storageInstant) => storageInstant[..13];

    /// <summary>The cut for <paramref name="asOf"/> (a settled instant), in the caller's read snapshot.</summary>
    public static AsOfCut Find(SqliteConnection connection, SqliteTransaction? transaction, DateTimeOffset asOf)
    {
        var utc = asOf.ToUniversalTime();
        var hourStart = new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, TimeSpan.Zero);
        var hourEnd = hourStart.AddHours(1);
        var (start, afterT, end) = (Instant.ToStorage(hourStart), Instant.ToStorage(utc.AddTicks(1)), Instant.ToStorage(hourEnd));
        var first = EventSeq.FirstRecordedAtOrAfter(connection, transaction, start);
        var split = EventSeq.FirstRecordedAtOrAfter(connection, transaction, afterT);
        var next = EventSeq.FirstRecordedAtOrAfter(connection, transaction, end);
        // Recorded in [start, t]: seq in [first, split); in (t, end): seq in [split, next).
        return split - first <= next - split
            ? new AsOfCut(HourOf(start), true, first, split - 1, start, afterT)
            : new AsOfCut(HourOf(start), false, split, next - 1, afterT, end);
    }
}
