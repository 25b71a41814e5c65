using Microsoft.Data.Sqlite;

namespace Tally.Api.Data;

/// <summary>Opens SQLite connections with the pragmas every connection needs.</summary>
public sealed class Database
{
    public Database(IConfiguration configuration)
    {
        StorageTypes.Register();
        var raw = configuration.GetConnectionString("Tally") ?? "Data Source=data/tally.db";
        var builder = new SqliteConnectionStringBuilder(raw) { Pooling = true };
        if (builder.Mode != SqliteOpenMode.Memory && !string.IsNullOrEmpty(builder.DataSource)
            && builder.DataSource != ":memory:")
        {
            builder.DataSource = Path.GetFullPath(builder.DataSource);
            FilePath = builder.DataSource;
        }
        ConnectionString = builder.ToString();
    }

    public string ConnectionString { get; }

    /// <summary>The database file, when it is one.</summary>
    public string? FilePath { get; }

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        ApplyPragmas(connection);
        return connection;
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken ct)
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync(ct);
        ApplyPragmas(connection);
        return connection;
    }

    private static void ApplyPragmas(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        // synchronous and busy_timeout are per connection; WAL is stored in the file (see Migrator).
        command.CommandText = "PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;";
        command.ExecuteNonQuery();
    }
}
