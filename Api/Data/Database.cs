using System.Data;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Tally.Api.Data;

/// <summary>The two stores Tally runs on; the connection string chooses (<see cref="Database"/>).</summary>
public enum StorageProvider
{
    /// <summary>The embedded SQLite file: one process per file.</summary>
    Sqlite,

    /// <summary>A PostgreSQL server: any number of processes per database.</summary>
    Postgres,
}

/// <summary>
/// Opens connections to the store the connection string names: <c>Host=…</c> is PostgreSQL (Npgsql), anything else
/// SQLite (<c>Data Source=…</c>), opened with the pragmas every SQLite connection needs. Only <c>Data/</c> and the
/// ledger's storage layer ask which one it is; features use <see cref="DbConnection"/> and <see cref="Sql"/>.
/// </summary>
public sealed class Database
{
    public Database(IConfiguration configuration)
        : this(configuration.GetConnectionString("Tally") ?? "Data Source=data/tally.db")
    {
    }

    public Database(string raw)
    {
        StorageTypes.Register();
        if (IsPostgres(raw))
        {
            Provider = StorageProvider.Postgres;
            var builder = new NpgsqlConnectionStringBuilder(raw);
            // The writer's group commit and the readers' snapshots are short; a cached plan per statement is kept.
            builder.MaxAutoPrepare = Math.Max(builder.MaxAutoPrepare, 256);
            builder.AutoPrepareMinUsages = Math.Min(builder.AutoPrepareMinUsages, 2);
            ConnectionString = builder.ToString();
            _postgres = new NpgsqlDataSourceBuilder(ConnectionString).Build();
        }
        else
        {
            var builder = new SqliteConnectionStringBuilder(raw) { Pooling = true };
            if (builder.Mode != SqliteOpenMode.Memory && !string.IsNullOrEmpty(builder.DataSource)
                && builder.DataSource != ":memory:")
            {
                builder.DataSource = Path.GetFullPath(builder.DataSource);
                FilePath = builder.DataSource;
            }
            ConnectionString = builder.ToString();
        }
        Sql = Sql.Of(Provider);
    }

    private readonly NpgsqlDataSource? _postgres;

    /// <summary>True for a PostgreSQL connection string (one that names a <c>Host</c>).</summary>
    public static bool IsPostgres(string connectionString)
    {
        try
        {
            return new DbConnectionStringBuilder { ConnectionString = connectionString }.ContainsKey("Host");
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    public StorageProvider Provider { get; }

    public bool IsPostgresProvider => Provider == StorageProvider.Postgres;

    /// <summary>True on SQLite, whose online backup <c>POST /admin/backup</c> serves; PostgreSQL has its own tools.</summary>
    public bool TakesOnlineBackups => !IsPostgresProvider;

    /// <summary>How this store spells what SQL dialects spell differently.</summary>
    public Sql Sql { get; }

    public string ConnectionString { get; }

    /// <summary>The database file, when it is one.</summary>
    public string? FilePath { get; }

    public DbConnection Open()
    {
        if (_postgres is not null)
            return _postgres.OpenConnection();
        var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        ApplyPragmas(connection);
        return connection;
    }

    public async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        if (_postgres is not null)
            return await _postgres.OpenConnectionAsync(ct);
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

public static class SnapshotExtensions
{
    /// <summary>
    /// A read transaction whose statements all see one committed state: SQLite's deferred transaction (its snapshot is
    /// taken at the first read) or PostgreSQL's REPEATABLE READ (taken at the first statement).
    /// </summary>
    public static DbTransaction BeginSnapshot(this DbConnection connection) => connection switch
    {
        SqliteConnection sqlite => sqlite.BeginTransaction(deferred: true),
        _ => connection.BeginTransaction(IsolationLevel.RepeatableRead),
    };
}
