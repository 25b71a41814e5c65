using System.Diagnostics.Metrics;

namespace Tally.Api.Ledger;

/// <summary>
/// The writer's instruments on the <c>Tally.Ledger</c> meter; GET /metrics exports them in Prometheus format
/// (prometheus-net prefixes the meter name: tally_ledger_queue_depth, tally_ledger_group_size, ...).
/// </summary>
public sealed class LedgerMetrics
{
    public const string MeterName = "Tally.Ledger";

    private readonly Meter _meter;
    private readonly Histogram<int> _groupSize;
    private readonly Histogram<double> _commitDuration;
    private readonly Counter<long> _eventsStored;
    private readonly Counter<long> _failedGroups;

    public LedgerMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _groupSize = _meter.CreateHistogram<int>("group.size", "{command}",
            "Commands committed together in one transaction (group commit).");
        _commitDuration = _meter.CreateHistogram<double>("commit.duration", "s",
            "Time from BEGIN to the end of COMMIT of one group.");
        _eventsStored = _meter.CreateCounter<long>("events.stored", "{event}", "Event rows committed.");
        _failedGroups = _meter.CreateCounter<long>("storage.failures", "{group}",
            "Groups rolled back because storage failed (disk full, read-only, I/O error).");
    }

    /// <summary>Publishes the writer's queue depth, read whenever the metrics are collected.</summary>
    public void ObserveQueueDepth(Func<int> depth) =>
        _meter.CreateObservableGauge("queue.depth", depth, "{command}", "Write commands accepted and not yet answered.");

    public void Committed(int commands, int events, TimeSpan duration)
    {
        _groupSize.Record(commands);
        _commitDuration.Record(duration.TotalSeconds);
        if (events > 0)
            _eventsStored.Add(events);
    }

    public void StorageFailed() => _failedGroups.Add(1);
}
