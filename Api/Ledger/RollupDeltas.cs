namespace Tally.Api.Ledger;

/// <summary>
/// Rollup changes summed per (metric, day, unit, campaign, dimensions) and written once per key, instead of three
/// upserts per event: for batches and imports, whose events share few keys. (Their as-of changes are summed per group
/// by the context's <see cref="AsOfChanges"/>.)
/// </summary>
public sealed class RollupDeltas
{
    private readonly Dictionary<RollupKey, (long Value, int Events)> _deltas = [];
    private readonly Dictionary<(string Metric, string Month, string OrgUnit), (string First, string Last)> _recorded = [];

    /// <summary>Keys waiting to be written; a caller with many flushes when it grows.</summary>
    public int Count => _deltas.Count;

    /// <summary>A new event (a void goes through EventLedger.Void, which also recomputes the cell's recording span).</summary>
    public void Add(EventRow row)
    {
        var key = RollupKey.Of(row);
        var (value, events) = _deltas.GetValueOrDefault(key);
        _deltas[key] = (value + row.Quantity, events + 1);
        var cell = (row.Metric, row.OccurredOn[..7], row.OrgUnit);
        _recorded[cell] = _recorded.TryGetValue(cell, out var span)
            ? (string.CompareOrdinal(row.RecordedAt, span.First) < 0 ? row.RecordedAt : span.First,
                string.CompareOrdinal(row.RecordedAt, span.Last) > 0 ? row.RecordedAt : span.Last)
            : (row.RecordedAt, row.RecordedAt);
    }

    public void Flush(LedgerContext context)
    {
        foreach (var (key, (value, events)) in _deltas)
            Rollups.Upsert(context, key, value, events);
        _deltas.Clear();
        foreach (var ((metric, month, orgUnit), (first, last)) in _recorded)
            Recordings.Added(context, metric, month, orgUnit, first, last);
        _recorded.Clear();
    }
}
