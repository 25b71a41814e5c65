namespace Tally.Api.Ledger;

/// <summary>Where the rewrite sequence locks of a year stand (<see cref="RewriteVersions"/>).</summary>
public readonly record struct RewriteMark(long Catalog, long Year)
{
    /// <summary>No rewriting group is committing (both locks even).</summary>
    public bool Settled => Catalog % 2 == 0 && Year % 2 == 0;
}

/// <summary>
/// The versions the report cache checks (Features/Reports/CountedEvents): sequence locks over changes that alter what
/// was already counted in a year: catalog changes (metrics and subtrees change, every year) and voids and supersessions
/// of that year's events (an event stops counting). Each is odd while such a group commits and moves by two for each. A
/// reader that sees the same settled mark before and after reading knows nothing counted earlier in that year changed
/// meanwhile, so sums kept from before need only the events recorded since.
/// </summary>
public sealed class RewriteVersions
{
    private long _catalog;
    private readonly long[] _years = new long[Years.Count];

    public RewriteMark Of(int year) =>
        new(Volatile.Read(ref _catalog), year is >= Years.First and < Years.First + Years.Count
            ? Volatile.Read(ref _years[year - Years.First]) : 0);

    /// <summary>Odd before the commit of a group that rewrites what was counted, even again after it.</summary>
    public void Move(bool catalogChanged, IEnumerable<int> years)
    {
        if (catalogChanged)
            Interlocked.Increment(ref _catalog);
        foreach (var year in years)
        {
            if (year is >= Years.First and < Years.First + Years.Count)
                Interlocked.Increment(ref _years[year - Years.First]);
        }
    }
}
