namespace Tally.Api.Ledger;

/// <summary>
/// A write that stores nothing: inserts and deletes a blob of fresh pages and commits, so it fails exactly where a real
/// write would (disk full, read-only file, I/O error). Readiness runs it through the writer after a storage failure.
/// </summary>
internal sealed class WritabilityProbe : LedgerCommand<bool>
{
    /// <summary>Larger than any page cache spill, so it needs new space in the WAL rather than room left by an old write.</summary>
    private const int ProbeBytes = 64 * 1024;

    protected override bool Run(LedgerContext context)
    {
        context.Prepared(context.OnPostgres
                ? "INSERT INTO health_probe (filler) VALUES (decode(repeat('00', CAST(@bytes AS integer)), 'hex'))"
                : "INSERT INTO health_probe (filler) VALUES (zeroblob(@bytes))")
            .Bind("@bytes", ProbeBytes).ExecuteNonQuery();
        context.Prepared("DELETE FROM health_probe").ExecuteNonQuery();
        return true;
    }
}
