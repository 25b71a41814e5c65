using System.Data.Common;
using Dapper;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// On PostgreSQL several processes append to one ledger: what each caches (the catalog, the keys, the report counts'
/// rewrite versions) must follow what the others committed. Every change is an audit entry, so the chain's head seq is
/// the ledger's version: a process that finds the head past the last seq it knows reads the actions of the entries in
/// between and refreshes what they touch. The writer does so at the start of each group, under the ledger's lock (so
/// the group decides against the current catalog); a request does so before it is served (<see cref="CatchUpAsync"/>:
/// one index probe when nothing changed), so no process answers from an old cache once a change was acknowledged by
/// another. On SQLite this process is the only writer, and all of this does nothing.
/// </summary>
public sealed class OtherWriters(Database database, CatalogCache catalog, RewriteVersions rewrites, ILogger logger)
{
    private readonly Lock _oneAtATime = new();
    private long _seen;

    /// <summary>Raised after entries of other processes touched API keys (the key store reloads).</summary>
    public event Action<DbConnection>? KeysChanged;

    public bool Enabled => database.IsPostgresProvider;

    /// <summary>Everything up to <paramref name="seq"/> is reflected in this process's caches (its own commits, or a catch-up).</summary>
    internal void Saw(long seq)
    {
        var seen = Volatile.Read(ref _seen);
        while (seq > seen)
        {
            var found = Interlocked.CompareExchange(ref _seen, seq, seen);
            if (found == seen)
                return;
            seen = found;
        }
    }

    /// <summary>Before a request is served: catches this process's caches up with what other processes committed.</summary>
    public async Task CatchUpAsync(CancellationToken ct)
    {
        if (!Enabled)
            return;
        await using var connection = await database.OpenAsync(ct);
        var head = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT coalesce(max(seq), 0) FROM audit_log", cancellationToken: ct));
        if (head <= Volatile.Read(ref _seen))
            return;
        CatchUp(connection, null, head);
    }

    /// <summary>The writer, at the start of a group under the ledger's lock: the head it found, applied to the caches.</summary>
    internal void CatchUp(DbConnection connection, DbTransaction? transaction, long head)
    {
        lock (_oneAtATime)
            CatchUpLocked(connection, transaction, head);
    }

    private void CatchUpLocked(DbConnection connection, DbTransaction? transaction, long head)
    {
        var seen = Volatile.Read(ref _seen);
        if (head <= seen)
            return;
        var actions = connection.Query<string>(
            "SELECT DISTINCT action FROM audit_log WHERE seq > @seen AND seq <= @head",
            new { seen, head }, transaction).ToHashSet(StringComparer.Ordinal);
        var catalogChanged = actions.Any(a => a.StartsWith("metric.", StringComparison.Ordinal)
            || a.StartsWith("org-unit.", StringComparison.Ordinal) || a.StartsWith("campaign.", StringComparison.Ordinal));
        if (catalogChanged)
            catalog.Replace(CatalogSnapshot.Load(connection, transaction));
        // A void or a supersede (an events.created entry may hold them) rewrites what a report counted: every year's
        // version moves, so the report caches count again rather than trust a total another process changed.
        if (catalogChanged || actions.Contains("event.voided") || actions.Contains(CreatedEvents.Action))
            rewrites.Move(catalogChanged: true, []);
        if (actions.Any(a => a.StartsWith("key.", StringComparison.Ordinal)))
            KeysChanged?.Invoke(connection);
        logger.LogDebug("Caught up with entries {From}-{To} of other processes ({Actions})", seen + 1, head, string.Join(", ", actions));
        Saw(head);
    }
}
