using System.Runtime.InteropServices;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// The as-of rollup changes of one group (<see cref="Rollups"/>), summed per key and written once just before the
/// group commits: single POSTs of one metric, unit and month share their as-of rows, so a group of them pays two
/// upserts instead of two per event. Nothing in a group reads the as-of rows (only readers and the start-up backfill
/// do), so deferring them to the end of the group changes no command's outcome. A command's changes are held apart
/// until its savepoint is released (<see cref="Keep"/>); rolled back, it drops them (<see cref="Drop"/>).
/// <para>
/// Changes go to the hour level only. The day and month levels are the hour rows summed (migration 0140): the first
/// group of a new hour adds every hour row since <c>asof_folded.through</c> to them and moves it to its own hour, in
/// its transaction. That is exact because no later group writes to an earlier hour: group instants only grow
/// (<see cref="GroupClock"/>), and every change a group writes is at its own instant.
/// </para>
/// </summary>
internal sealed class AsOfChanges
{
    private readonly Dictionary<AsOfKey, Sum> _group = [];
    private readonly Dictionary<AsOfKey, Sum> _command = [];

    /// <summary>
    /// A change of the running command: <paramref name="row"/> recorded (+1) or voided (-1) at
    /// <paramref name="changedAt"/>, with its kept digest's limbs.
    /// </summary>
    public void Add(EventRow row, string changedAt, int sign)
    {
        Span<long> limbs = stackalloc long[SetDigest.Limbs];
        SetDigest.Of(row.Id, row.Quantity, limbs);
        AddTo(_command, AsOfKey.Of(row, changedAt), sign * row.Quantity, sign, limbs, sign);
    }

    /// <summary>The running command was released: its changes join the group's.</summary>
    public void Keep()
    {
        foreach (var (key, sum) in _command)
            AddTo(_group, key, sum.Value, sum.Events, sum.Limbs, 1);
        _command.Clear();
    }

    /// <summary>The running command was rolled back to its savepoint: its changes go with it.</summary>
    public void Drop() => _command.Clear();

    /// <summary>Folds the hours closed since the last group, then writes this group's changes, one upsert per key.</summary>
    public void Write(LedgerContext context)
    {
        Fold(context);
        foreach (var (key, sum) in _group)
            Rollups.UpsertAsOf(context, key, sum.Value, sum.Events, sum.Limbs);
        _group.Clear();
    }

    private static void AddTo(Dictionary<AsOfKey, Sum> sums, AsOfKey key, long value, int events, ReadOnlySpan<long> limbs, int sign)
    {
        ref var sum = ref CollectionsMarshal.GetValueRefOrAddDefault(sums, key, out _);
        sum ??= new Sum();
        sum.Value += value;
        sum.Events += events;
        for (var i = 0; i < limbs.Length; i++)
            sum.Limbs[i] += sign * limbs[i];
    }

    /// <summary>One key's summed changes (limbs summed without carries, as stored).</summary>
    private sealed class Sum
    {
        public long Value;
        public int Events;
        public readonly long[] Limbs = new long[SetDigest.Limbs];
    }

    /// <summary>Adds the hour rows of the hours before this group's to the day and month levels, once.</summary>
    private static void Fold(LedgerContext context)
    {
        var through = (string)context.Prepared("SELECT through FROM asof_folded").ExecuteScalar()!;
        var hour = AsOfCut.HourOf(Instant.ToStorage(context.Now));
        if (string.CompareOrdinal(through, hour) >= 0)
            return;
        context.Prepared(FoldSql).Bind("@from", through).Bind("@to", hour).ExecuteNonQuery();
    }

    /// <summary>The hour rows of [@from, @to) summed into both families' day and month rows; then the mark moves.</summary>
    private static readonly string FoldSql = string.Concat(
        new[] { (Level: "day", Length: 10), (Level: "month", Length: 7) }.Select(level =>
            $"""
            INSERT INTO asof_{level.Level}_rollups (metric, month, org_unit, campaign, dimensions, changed, value, events)
            SELECT metric, month, org_unit, campaign, dimensions, substr(changed, 1, {level.Length}), sum(value), sum(events)
            FROM asof_hour_rollups WHERE changed >= @from AND changed < @to
            GROUP BY metric, month, org_unit, campaign, dimensions, substr(changed, 1, {level.Length})
            ON CONFLICT (metric, month, org_unit, campaign, dimensions, changed)
            DO UPDATE SET value = asof_{level.Level}_rollups.value + excluded.value, events = asof_{level.Level}_rollups.events + excluded.events;
            INSERT INTO asof_unit_{level.Level}_rollups (metric, month, org_unit, changed, value, events, d0, d1, d2, d3, d4, d5, d6, d7)
            SELECT metric, month, org_unit, substr(changed, 1, {level.Length}), sum(value), sum(events),
                   sum(d0), sum(d1), sum(d2), sum(d3), sum(d4), sum(d5), sum(d6), sum(d7)
            FROM asof_unit_hour_rollups WHERE changed >= @from AND changed < @to
            GROUP BY metric, month, org_unit, substr(changed, 1, {level.Length})
            ON CONFLICT (metric, month, org_unit, changed)
            DO UPDATE SET value = asof_unit_{level.Level}_rollups.value + excluded.value, events = asof_unit_{level.Level}_rollups.events + excluded.events,
                d0 = asof_unit_{level.Level}_rollups.d0 + excluded.d0, d1 = asof_unit_{level.Level}_rollups.d1 + excluded.d1, d2 = asof_unit_{level.Level}_rollups.d2 + excluded.d2, d3 = asof_unit_{level.Level}_rollups.d3 + excluded.d3,
                d4 = asof_unit_{level.Level}_rollups.d4 + excluded.d4, d5 = asof_unit_{level.Level}_rollups.d5 + excluded.d5, d6 = asof_unit_{level.Level}_rollups.d6 + excluded.d6, d7 = asof_unit_{level.Level}_rollups.d7 + excluded.d7;

            """)) + "UPDATE asof_folded SET through = @to;";
}
