using Microsoft.Data.Sqlite;
using Npgsql;

namespace Tally.Api.Data;

/// <summary>What an exception from the store means for the write in progress, on either provider.</summary>
public static class StorageErrors
{
    private const int SqliteConstraint = 19;

    /// <summary>
    /// Storage itself failed (I/O, disk full, corruption, a lost lock or connection, a serialization failure): the
    /// transaction cannot be trusted and the whole group is rolled back. A constraint violation (SQLite's CONSTRAINT,
    /// PostgreSQL's class 23) is a statement's alone and stays with its command.
    /// </summary>
    public static bool IsStorageFailure(Exception ex) => ex switch
    {
        DeferredWriteException => true,
        SqliteException sqlite => sqlite.SqliteErrorCode != SqliteConstraint,
        PostgresException postgres => !postgres.SqlState.StartsWith("23", StringComparison.Ordinal),
        NpgsqlException or IOException => true,
        _ => false,
    };

    /// <summary>Any failure the store raised (rather than the code that called it).</summary>
    public static bool IsStoreError(Exception ex) =>
        ex is SqliteException or NpgsqlException or IOException or UnauthorizedAccessException;
}

/// <summary>
/// A write the ledger held back to send with a later statement failed (Api/Ledger/PendingWrites.cs): whatever the
/// cause, the group is rolled back whole, since the command that wrote it may already have ended.
/// </summary>
public sealed class DeferredWriteException(Exception inner)
    : Exception("A held write of the ledger group failed: " + inner.Message, inner);
