using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Tally.Api.Data;

/// <summary>
/// One read snapshot that several readers walk at once (an audit verification merges the events, their entries and the
/// Merkle entries in one pass). SQLite: one connection holds any number of open readers, so each reader is the same
/// connection and transaction. PostgreSQL: a connection runs one statement at a time, so each further reader is a
/// connection of its own that imports the first one's snapshot (<c>pg_export_snapshot</c>, <c>SET TRANSACTION
/// SNAPSHOT</c>): every reader sees exactly the same committed state.
/// </summary>
public sealed class SharedSnapshot : IAsyncDisposable
{
    private readonly Database _database;
    private readonly string? _exported;
    private readonly List<(DbConnection Connection, DbTransaction Transaction)> _others = [];

    private SharedSnapshot(Database database, DbConnection connection, DbTransaction transaction, string? exported)
    {
        _database = database;
        Connection = connection;
        Transaction = transaction;
        _exported = exported;
    }

    /// <summary>The first reader's connection: statements on it run in the snapshot.</summary>
    public DbConnection Connection { get; }

    public DbTransaction Transaction { get; }

    public static async Task<SharedSnapshot> BeginAsync(Database database, CancellationToken ct)
    {
        var connection = await database.OpenAsync(ct);
        var transaction = connection.BeginSnapshot();
        string? exported = null;
        if (connection is not SqliteConnection)
        {
            exported = await connection.ExecuteScalarAsync<string>(new CommandDefinition(
                "SELECT pg_export_snapshot()", transaction: transaction, cancellationToken: ct));
        }
        return new SharedSnapshot(database, connection, transaction, exported);
    }

    /// <summary>A connection in the same snapshot that is free for one more open reader (SQLite: the first one).</summary>
    public async Task<(DbConnection Connection, DbTransaction Transaction)> ReaderAsync(CancellationToken ct)
    {
        if (_exported is null)
            return (Connection, Transaction);
        var connection = await _database.OpenAsync(ct);
        var transaction = connection.BeginTransaction(IsolationLevel.RepeatableRead);
        _others.Add((connection, transaction));
        await connection.ExecuteAsync(new CommandDefinition(
            $"SET TRANSACTION SNAPSHOT '{_exported}'", transaction: transaction, cancellationToken: ct));
        return (connection, transaction);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (connection, transaction) in _others)
        {
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
        await Transaction.DisposeAsync();
        await Connection.DisposeAsync();
    }
}
