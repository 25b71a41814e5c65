using System.Data;
using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Tally.Api.Ledger;

/// <summary>
/// The transaction a group runs in. SQLite: BEGIN IMMEDIATE, the file's one write lock, so no other writer can come
/// between the group's reads and its writes. PostgreSQL: READ COMMITTED, then the ledger's lock
/// (<see cref="WriterLock"/>), held to the commit: groups of every process run one at a time in one total order, and each
/// statement after the lock sees every group committed before it.
/// </summary>
internal static class WriteTransaction
{
    public static DbTransaction Begin(DbConnection connection)
    {
        if (connection is SqliteConnection sqlite)
            return sqlite.BeginTransaction(deferred: false);
        var transaction = connection.BeginTransaction(IsolationLevel.ReadCommitted);
        WriterLock.Take(connection, transaction);
        return transaction;
    }
}

/// <summary>
/// PostgreSQL's lock on the ledger: a transaction-scoped advisory lock on one fixed key, so it is released by the
/// commit or rollback that ends the group, and by the server when the holder's connection dies (a killed process
/// never leaves the ledger locked).
/// </summary>
internal static class WriterLock
{
    /// <summary>The key: "tally" as a number, constant across versions, so every process takes the same lock.</summary>
    public const long Key = 0x74616C6C79;

    public static void Take(DbConnection connection, DbTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = $"SELECT pg_advisory_xact_lock({Key})";
        command.ExecuteNonQuery();
    }
}
