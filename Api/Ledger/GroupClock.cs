namespace Tally.Api.Ledger;

/// <summary>
/// The instants of LedgerWriter's groups (each group's recordedAt and voidedAt): strictly increasing even if the clock
/// steps back, and the instant through which the ledger is settled. Groups are taken on the writer's thread only;
/// <see cref="SettledThrough"/> is read from any.
/// </summary>
public sealed class GroupClock(TimeProvider clock)
{
    private long _lastGroupTicks;
    private long _runningSinceTicks = long.MaxValue;

    /// <summary>At start: the last committed group's instant, so new groups come strictly after it.</summary>
    public void Observe(DateTimeOffset lastGroup) => _lastGroupTicks = Math.Max(_lastGroupTicks, lastGroup.UtcTicks);

    /// <summary>
    /// The instant of a new group: strictly later than the previous group's, and announced before it is taken, so
    /// <see cref="SettledThrough"/> never passes a running group.
    /// </summary>
    public DateTimeOffset Next()
    {
        var floor = Math.Max(clock.GetUtcNow().UtcTicks, _lastGroupTicks + 1);
        Volatile.Write(ref _runningSinceTicks, floor);
        var ticks = Math.Max(clock.GetUtcNow().UtcTicks, floor);
        _lastGroupTicks = ticks;
        return new DateTimeOffset(ticks, TimeSpan.Zero);
    }

    /// <summary>The running group committed or failed: it no longer holds back <see cref="SettledThrough"/>.</summary>
    public void GroupEnded() => Volatile.Write(ref _runningSinceTicks, long.MaxValue);

    /// <summary>
    /// An instant through which the ledger is settled: every event recorded or voided at or before it is committed,
    /// and nothing committed later can carry an instant at or before it. Reads "as of" this instant are final.
    /// </summary>
    public DateTimeOffset SettledThrough()
    {
        // The clock first, then the running group: a group publishes its lower bound before it reads the clock for
        // its own instant, so either we see it here or its instant is later than the clock we read.
        var now = clock.GetUtcNow().UtcTicks;
        var running = Volatile.Read(ref _runningSinceTicks);
        return new DateTimeOffset(Math.Min(now, running) - 1, TimeSpan.Zero);
    }
}
