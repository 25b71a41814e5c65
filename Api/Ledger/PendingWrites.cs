using System.Data.Common;
using System.Text;
using System.Text.RegularExpressions;
using Npgsql;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// PostgreSQL: the writer's writes whose answer nobody reads (an event's row, its rollups, its recording span, an audit
/// entry), held back and sent as one multi-statement command with the next statement the writer sends, instead of a
/// round trip each. The server runs them in the order they were written, before that statement, in the same
/// transaction: nothing reads differently, since <see cref="LedgerContext"/> sends them before any other statement.
/// <para>
/// Each write's parameters are renamed with its place in the command (<c>@metric</c> of the third write becomes
/// <c>@metric_2</c>); Npgsql splits the command into its statements and numbers each one's parameters from <c>$1</c>,
/// so every statement keeps the text it is prepared under. A failure of a held write fails the whole group
/// (<see cref="DeferredWriteException"/>): the command that wrote it may already be behind a released savepoint.
/// </para>
/// </summary>
internal sealed partial class PendingWrites(NpgsqlConnection connection)
{
    private readonly List<NpgsqlParameter> _parameters = [];

    public NpgsqlConnection Connection => connection;
    private readonly StringBuilder _sql = new();
    private readonly Dictionary<(string Sql, int Place), string> _renamed = [];
    private int _count;

    public int Count => _count;

    /// <summary>Writes held at most: a batch's many writes go in commands of this many statements.</summary>
    public const int MaxHeld = 64;

    /// <summary>Holds <paramref name="write"/> as it is bound now (its values are copied: the prepared command is rebound later).</summary>
    public void Add(DbCommand write, DbTransaction transaction)
    {
        if (_count == MaxHeld)
            Send(transaction);
        var place = _count++;
        if (!_renamed.TryGetValue((write.CommandText, place), out var text))
            _renamed[(write.CommandText, place)] = text = ParameterName().Replace(write.CommandText.TrimEnd().TrimEnd(';'), m => m.Value + "_" + place);
        _sql.Append(text).Append(";\n");
        foreach (DbParameter parameter in write.Parameters)
            _parameters.Add(new NpgsqlParameter(parameter.ParameterName + "_" + place, parameter.Value));
    }

    /// <summary>Sends the held writes, then <paramref name="last"/> (a statement without parameters, or nothing), in one round trip.</summary>
    public void Send(DbTransaction transaction, string? last = null)
    {
        if (last is not null)
            _sql.Append(last);
        using var command = new NpgsqlCommand(_sql.ToString(), connection, (NpgsqlTransaction)transaction);
        command.Parameters.AddRange(_parameters.ToArray());
        try
        {
            command.ExecuteNonQuery();
        }
        catch (Exception ex) when (StorageErrors.IsStoreError(ex))
        {
            throw new DeferredWriteException(ex);
        }
        finally
        {
            Drop();
        }
    }

    /// <summary>Forgets the held writes: their command was rolled back to its savepoint, so they are never sent.</summary>
    public void Drop()
    {
        _sql.Clear();
        _parameters.Clear();
        _count = 0;
    }

    [GeneratedRegex(@"@\w+")]
    private static partial Regex ParameterName();
}
