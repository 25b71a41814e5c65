using Microsoft.Data.Sqlite;

namespace Tally.Api.Ledger;

/// <summary>
/// The writer's hot statements, each compiled once on the writer's connection and then only re-bound: SQLite parses
/// and plans a statement once instead of once per event (Dapper would prepare a fresh command on every call).
/// </summary>
public sealed class PreparedStatements(SqliteConnection connection) : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    /// <summary>The command for <paramref name="sql"/>, in <paramref name="transaction"/>; bind with <see cref="Bind"/>.</summary>
    public SqliteCommand Get(string sql, SqliteTransaction transaction)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            _commands[sql] = command;
        }
        command.Transaction = transaction;
        return command;
    }

    public void Dispose()
    {
        foreach (var command in _commands.Values)
            command.Dispose();
        _commands.Clear();
    }
}

public static class PreparedCommandExtensions
{
    /// <summary>Sets a parameter, adding it on first use; null becomes SQL NULL.</summary>
    public static SqliteCommand Bind(this SqliteCommand command, string name, object? value)
    {
        var index = command.Parameters.IndexOf(name);
        if (index < 0)
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        else
            command.Parameters[index].Value = value ?? DBNull.Value;
        return command;
    }
}
