namespace Tally.Api.Ledger;

/// <summary>
/// The as-of rollup changes of one group (<see cref="Rollups"/>), summed per key and written once just before the
/// group commits: single POSTs of one metric, unit and month share their as-of rows, so a group of them pays six
/// upserts instead of six per event. Nothing in a group reads the as-of rows (only readers and the start-up backfill
/// do), so deferring them to the end of the group changes no command's outcome. A command rolled back to its
/// savepoint drops the changes it added.
/// </summary>
internal sealed class AsOfChanges
{
    private readonly List<(AsOfKey Key, long Value, int Events, long[] Limbs)> _changes = [];

    /// <summary>How many changes are waiting: a savepoint's mark.</summary>
    public int Count => _changes.Count;

    public void Add(AsOfKey key, long value, int events, ReadOnlySpan<long> limbs) =>
        _changes.Add((key, value, events, limbs.ToArray()));

    /// <summary>Drops the changes added since <paramref name="mark"/> (a command rolled back).</summary>
    public void DropFrom(int mark) => _changes.RemoveRange(mark, _changes.Count - mark);

    /// <summary>Writes the group's changes, one upsert per key and level, in the group's transaction.</summary>
    public void Write(LedgerContext context)
    {
        if (_changes.Count == 0)
            return;
        var summed = new Dictionary<AsOfKey, (long Value, int Events, long[] Limbs)>();
        foreach (var (key, value, events, limbs) in _changes)
        {
            if (!summed.TryGetValue(key, out var sum))
            {
                summed[key] = (value, events, limbs);
                continue;
            }
            for (var i = 0; i < limbs.Length; i++)
                sum.Limbs[i] += limbs[i];
            summed[key] = (sum.Value + value, sum.Events + events, sum.Limbs);
        }
        foreach (var (key, (value, events, limbs)) in summed)
            Rollups.UpsertAsOf(context, key, value, events, limbs);
        _changes.Clear();
    }
}
