using Tally.Api.Data;
using System.Data.Common;

namespace Tally.Api.Ledger;

/// <summary>
/// The writer's hot statements, each compiled once on the writer's connection and then only re-bound: SQLite parses
/// and plans a statement once instead of once per event (Dapper would prepare a fresh command on every call);
/// PostgreSQL's connections prepare a statement after its second use (<see cref="Tally.Api.Data.Database"/>).
/// </summary>
public sealed class PreparedStatements(DbConnection connection) : IDisposable
{
    private readonly Dictionary<string, DbCommand> _commands = new(StringComparer.Ordinal);

    /// <summary>The command for <paramref name="sql"/>, in <paramref name="transaction"/>; bind with <see cref="Bind"/>.</summary>
    public DbCommand Get(string sql, DbTransaction transaction)
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
    /// <summary>A yes-or-no answer (an EXISTS): SQLite's 0 or 1, PostgreSQL's boolean.</summary>
    public static bool ExecuteFlag(this DbCommand command) => command.ExecuteScalar() switch
    {
        bool flag => flag,
        long number => number != 0,
        _ => false,
    };

    /// <summary>Sets a parameter, adding it on first use, in its storage form (<see cref="StorageTypes.ToStorage"/>); null becomes SQL NULL.</summary>
    public static DbCommand Bind(this DbCommand command, string name, object? value)
    {
        var index = command.Parameters.IndexOf(name);
        if (index >= 0)
        {
            command.Parameters[index].Value = StorageTypes.ToStorage(value);
            return command;
        }
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = StorageTypes.ToStorage(value);
        command.Parameters.Add(parameter);
        return command;
    }
}
