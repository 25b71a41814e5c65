using System.Data.Common;
using System.Security.Cryptography;
using Dapper;
using Npgsql;

namespace Tally.Api.Data;

/// <summary>
/// This process, as other processes on the same database can tell whether it still runs: a random id drawn at start
/// (<see cref="Id"/>, recorded as the owner of the imports it runs). On PostgreSQL the process holds a session advisory
/// lock on its id, for its life, on a connection of its own: the server frees it when the process dies or its
/// connection is cut, so another process that can take the lock knows the owner is gone. On SQLite one process serves
/// the file: every owner but this process is gone.
/// </summary>
public sealed class ProcessLease(Database database, ILogger<ProcessLease> logger) : IDisposable
{
    private readonly Lock _gate = new();
    private NpgsqlConnection? _held;

    /// <summary>This process's id: random, never 0 (so it never meets the ledger's own advisory lock keys by design).</summary>
    public long Id { get; } = NewId();

    /// <summary>True when other processes may share the database (PostgreSQL): their work is then checked for, not assumed.</summary>
    public bool OthersMayRun => database.IsPostgresProvider;

    private static long NewId()
    {
        long id;
        do
            id = BitConverter.ToInt64(RandomNumberGenerator.GetBytes(8));
        while (id == 0);
        return id;
    }

    /// <summary>
    /// Takes (or, after its connection was cut, takes again) the lease: on PostgreSQL the advisory lock on <see cref="Id"/>.
    /// Idempotent; called at start and before each look for other processes' orphans.
    /// </summary>
    public void Hold()
    {
        if (!OthersMayRun)
            return;
        lock (_gate)
        {
            if (_held is { State: System.Data.ConnectionState.Open })
            {
                try
                {
                    _held.ExecuteScalar("SELECT 1");
                    return;
                }
                catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
                {
                    logger.LogWarning(ex, "The connection that holds this process's lease was lost; taking it again");
                }
            }
            _held?.Dispose();
            var connection = (NpgsqlConnection)database.Open();
            // Its own connection, never returned to the pool while held: a pooled reuse would keep the lock past the process.
            connection.Execute("SELECT pg_advisory_lock(@id)", new { id = Id });
            _held = connection;
        }
    }

    /// <summary>
    /// True when the process that drew <paramref name="owner"/> no longer runs (null: a row from before owners were kept).
    /// On PostgreSQL: its lock is free, tried and let go at once on <paramref name="connection"/>.
    /// </summary>
    public bool IsGone(long? owner, DbConnection connection, DbTransaction? transaction)
    {
        if (owner is null)
            return true;
        if (owner == Id)
            return false;
        if (!OthersMayRun)
            return true;
        if (!connection.ExecuteScalar<bool>("SELECT pg_try_advisory_lock(@owner)", new { owner }, transaction))
            return false;
        connection.Execute("SELECT pg_advisory_unlock(@owner)", new { owner }, transaction);
        return true;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _held?.Dispose();
            _held = null;
        }
    }
}
