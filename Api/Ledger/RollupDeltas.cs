namespace Tally.Api.Ledger;

/// <summary>
/// Rollup changes summed per (metric, day, unit, campaign, dimensions) and written once per key, instead of three
/// upserts per event: for batches and imports, whose events share few keys.
/// </summary>
public sealed class RollupDeltas
{
    private readonly Dictionary<RollupKey, (long Value, int Events)> _deltas = [];

    /// <summary>Keys waiting to be written; a caller with many flushes when it grows.</summary>
    public int Count => _deltas.Count;

    public void Add(EventRow row, int sign)
    {
        var key = RollupKey.Of(row);
        var (value, events) = _deltas.GetValueOrDefault(key);
        _deltas[key] = (value + sign * row.Quantity, events + sign);
    }

    public void Flush(LedgerContext context)
    {
        foreach (var (key, (value, events)) in _deltas)
            Rollups.Upsert(context, key, value, events);
        _deltas.Clear();
    }
}
