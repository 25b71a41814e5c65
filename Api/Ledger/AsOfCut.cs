using Dapper;
using System.Data.Common;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// Where a read "as of" an instant t cuts the as-of rollups (migration 0130), and the few ledger events that make up
/// the rest: the one place that finds events recorded or voided in a time window.
/// <para>
/// Why it is exact. An event counts as of t when recorded_at &lt;= t and it is not voided by t (voided_at null or
/// later than t); a supersession is a void of the old event at the new one's instant, so it needs nothing more. As
/// voided_at is never before recorded_at, an event's count as of t is [recorded_at &lt;= t] - [voided_at &lt;= t], and any
/// sum over counted events is S(t), the sum of the changes (+quantity at recorded_at, -quantity at voided_at) at
/// instants &lt;= t. The rollups keep those changes summed per UTC month, day and hour of the change. With m0 &lt; d0 &lt;= h0
/// &lt;= t the starts of t's month, day and hour, and m1, d1, h1 their ends:
/// S(t) = S(h) ± the ledger's changes between h and t, for h = h0 or h1 (whichever window holds fewer events);
/// S(h) = S(d) ± the hour rows between d and h, for d = d0 or d1 (whichever is fewer hours away);
/// S(d) = S(m) ± the day rows between m and d, for m = the start or the end of d's month (likewise in days);
/// S(m) = the month rows of months before m.
/// Every bound is the start of a bucket of the level it is read from, and the buckets nest, so each step is exact; all
/// of it is read in one snapshot, in which rows after t may still be growing: they are added and taken off alike.
/// Changes are written to the hour rows at once and summed into the day and month rows once their hour has closed
/// (<see cref="AsOfChanges"/>, asof_folded): the day and month rows hold exactly the changes before the fold's mark F,
/// so d and m are only taken at or before F; when neither d0 nor d1 is, d is the start of F's day and the hour rows
/// run from there (as many more as the fold lags, which is the hour since the last write). A mark read from an older
/// snapshot is still exact: a fold adds only to the day of F and later, never to the rows such a cut reads.
/// The digest's limbs are sums too, so the same holds for the kept digest. Recordings of a window are a range of seq
/// (recorded_at never decreases along seq: GroupClock); voids are found in asof_voids, the log of voids.
/// </para>
/// </summary>
public sealed class AsOfCut
{
    private readonly string _month;
    private readonly (string From, string To, int Sign) _days;
    private readonly (string From, string To, int Sign) _hours;
    private readonly (long FromSeq, long ToSeq, string VoidFrom, string VoidTo, int Sign) _window;

    private AsOfCut(string month, (string, string, int) days, (string, string, int) hours, (long, long, string, string, int) window)
    {
        (_month, _days, _hours, _window) = (month, days, hours, window);
    }

    /// <summary>One read of a level of the as-of rollups: its table, which of its rows, and +1 or -1.</summary>
    public readonly record struct Part(string Table, string Condition, int Sign);

    /// <summary>
    /// The rows to read, in the wide family (asof_*_rollups: campaign and dimensions) or the unit family
    /// (asof_unit_*_rollups: per metric, month and unit, with the digest's limbs); a level with nothing to read is left out.
    /// </summary>
    public IReadOnlyList<Part> Parts(bool unitFamily)
    {
        var family = unitFamily ? "asof_unit_" : "asof_";
        var parts = new List<Part>(3) { new(family + "month_rollups", "changed < @cutMonth", 1) };
        if (_days.From != _days.To)
            parts.Add(new(family + "day_rollups", "changed >= @cutDayFrom AND changed < @cutDayTo", _days.Sign));
        if (_hours.From != _hours.To)
            parts.Add(new(family + "hour_rollups", "changed >= @cutHourFrom AND changed < @cutHourTo", _hours.Sign));
        return parts;
    }

    /// <summary>+1 when the ledger window's changes are added to the rows read, -1 when they are taken off.</summary>
    public int Sign => _window.Sign;

    /// <summary>Events recorded in the ledger window (a seq range, bounds inclusive).</summary>
    public const string RecordedCondition = "seq BETWEEN @cutFromSeq AND @cutToSeq";

    /// <summary>Events voided in the ledger window (half-open text bounds of voided_at), found in asof_voids.</summary>
    public const string VoidedCondition =
        "id IN (SELECT event_id FROM asof_voids WHERE voided_at >= @cutVoidFrom AND voided_at < @cutVoidTo)";

    public void Bind(DynamicParameters parameters)
    {
        parameters.Add("cutMonth", _month);
        parameters.Add("cutDayFrom", _days.From);
        parameters.Add("cutDayTo", _days.To);
        parameters.Add("cutHourFrom", _hours.From);
        parameters.Add("cutHourTo", _hours.To);
        parameters.Add("cutFromSeq", _window.FromSeq);
        parameters.Add("cutToSeq", _window.ToSeq);
        parameters.Add("cutVoidFrom", _window.VoidFrom);
        parameters.Add("cutVoidTo", _window.VoidTo);
    }

    /// <summary>The bucket of a storage instant at each level: 'yyyy-MM', 'yyyy-MM-dd', 'yyyy-MM-ddTHH'.</summary>
    public static string MonthOf(string storageInstant) => storageInstant[..7];

    public static string DayOf(string storageInstant) => storageInstant[..10];

    public static string HourOf(string storageInstant) => storageInstant[..13];

    /// <summary>The start of the first hour whose rows are not yet in the day and month levels (migration 0140).</summary>
    private static DateTimeOffset FoldedThrough(DbConnection connection, DbTransaction? transaction)
    {
        var through = connection.ExecuteScalar<string>("SELECT through FROM asof_folded", transaction: transaction)!;
        return DateTimeOffset.ParseExact(through, "yyyy-MM-dd'T'HH", System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal);
    }

    /// <summary>The cut for <paramref name="asOf"/> (a settled instant), in the caller's read snapshot.</summary>
    public static AsOfCut Find(DbConnection connection, DbTransaction? transaction, DateTimeOffset asOf)
    {
        var t = asOf.ToUniversalTime();
        var h0 = new DateTimeOffset(t.Year, t.Month, t.Day, t.Hour, 0, 0, TimeSpan.Zero);
        var h1 = h0.AddHours(1);
        var (start, afterT, end) = (Instant.ToStorage(h0), Instant.ToStorage(t.AddTicks(1)), Instant.ToStorage(h1));
        var first = EventSeq.FirstRecordedAtOrAfter(connection, transaction, start);
        var split = EventSeq.FirstRecordedAtOrAfter(connection, transaction, afterT);
        var next = EventSeq.FirstRecordedAtOrAfter(connection, transaction, end);
        // Recorded in [h0, t]: seq in [first, split); in (t, h1): seq in [split, next).
        var fromHourStart = split - first <= next - split;
        var window = fromHourStart
            ? (first, split - 1, start, afterT, 1)
            : (split, next - 1, afterT, end, -1);
        var h = fromHourStart ? h0 : h1;

        // S(h) from a day boundary p, S(p) from a month boundary q: each the nearer of the two around it among those the
        // fold has reached (the day and month rows are complete only before asof_folded.through), else the fold's own day.
        var folded = FoldedThrough(connection, transaction);
        var d0 = new DateTimeOffset(t.Year, t.Month, t.Day, 0, 0, 0, TimeSpan.Zero);
        var d1 = d0.AddDays(1);
        var p = d1 <= folded ? ((h - d0) <= (d1 - h) ? d0 : d1)
            : d0 <= folded ? d0
            : new DateTimeOffset(folded.Year, folded.Month, folded.Day, 0, 0, 0, TimeSpan.Zero);
        var hours = p <= h ? (Hour(p), Hour(h), 1) : (Hour(h), Hour(p), -1);

        var m0 = new DateTimeOffset(p.Year, p.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var m1 = m0.AddMonths(1);
        var q = m1 <= folded && (m1 - p) < (p - m0) ? m1 : m0;
        var days = q <= p ? (Day(q), Day(p), 1) : (Day(p), Day(q), -1);
        return new AsOfCut(MonthOf(Instant.ToStorage(q)), days, hours, window);

        static string Day(DateTimeOffset instant) => DayOf(Instant.ToStorage(instant));
        static string Hour(DateTimeOffset instant) => HourOf(Instant.ToStorage(instant));
    }
}
