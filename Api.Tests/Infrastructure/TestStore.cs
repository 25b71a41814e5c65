using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;
using Tally.Api.Data;

namespace Tally.Api.Tests.Infrastructure;

/// <summary>
/// Which store the suite runs on. SQLite by default: each app a temp file. With <c>TALLY_TEST_PROVIDER=postgres</c>
/// the same tests run on PostgreSQL, on the server <c>TALLY_TEST_POSTGRES</c> names (an Npgsql connection string of a
/// role that may create databases; <c>source .ci/postgres start</c> starts one and sets it): each app gets a database
/// of its own, copied from a template migrated once per run, and dropped when the app is disposed.
/// </summary>
public static class TestStore
{
    public static bool OnPostgres { get; } =
        string.Equals(Environment.GetEnvironmentVariable("TALLY_TEST_PROVIDER"), "postgres", StringComparison.OrdinalIgnoreCase);

    /// <summary>The server's connection string (its maintenance database), or null when none is configured.</summary>
    public static string? Server { get; } = Environment.GetEnvironmentVariable("TALLY_TEST_POSTGRES") is { Length: > 0 } server
        ? server
        : null;

    /// <summary>For a test of what only the embedded SQLite store has (its file, its online backup, its upgrades).</summary>
    public static void SkipUnlessSqlite(string why)
    {
        if (OnPostgres)
            Assert.Skip("SQLite only: " + why);
    }

    /// <summary>
    /// Lets a test's tampering edit rows as an intruder with file access would, whatever they reference: SQLite checks
    /// foreign keys per connection and is told not to; PostgreSQL's keys are deferrable, and are deferred to the commit
    /// of the edit (an edit that breaks one is refused there, as the server would refuse any client).
    /// </summary>
    public static void WithoutForeignKeys(DbConnection db)
    {
        if (db is SqliteConnection)
            db.Execute("PRAGMA foreign_keys = OFF");
    }

    /// <summary>The store's own structural check: SQLite's integrity_check; PostgreSQL keeps its pages itself (nothing to ask).</summary>
    public static void AssertIntact(DbConnection db)
    {
        if (db is SqliteConnection)
            Assert.Equal("ok", db.ExecuteScalar<string>("PRAGMA integrity_check"));
    }

    /// <summary>A list parameter in the suite's store's SQL (<see cref="Sql.InList"/>): bind an array.</summary>
    public static string InList(string column, string parameter) =>
        Sql.Of(OnPostgres ? StorageProvider.Postgres : StorageProvider.Sqlite).InList(column, parameter);

    /// <summary>A JSON object column's value at a constant key, as text, in the connection's dialect.</summary>
    public static string JsonText(DbConnection db, string column, string key) => db is SqliteConnection
        ? $"json_extract({column}, '$.\"{key}\"')"
        : $"({column}::jsonb ->> '{key}')";

    private static readonly Lazy<string> Template = new(CreateTemplate);

    private static string RequireServer() =>
        Server ?? throw new InvalidOperationException("TALLY_TEST_PROVIDER=postgres needs TALLY_TEST_POSTGRES (source .ci/postgres start).");

    private static string CreateTemplate()
    {
        var name = $"tally_template_{Environment.ProcessId}_{Guid.NewGuid():N}"[..48];
        Execute($"CREATE DATABASE {name}");
        var connectionString = With(name);
        PostgresMigrator.Migrate(connectionString);
        NpgsqlConnection.ClearAllPools();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDrop(name);
        return name;
    }

    /// <summary>A new, migrated PostgreSQL database of its own; its connection string.</summary>
    public static string NewPostgresDatabase()
    {
        var template = Template.Value;
        var name = "tally_t_" + Guid.NewGuid().ToString("N");
        Execute($"CREATE DATABASE {name} TEMPLATE {template}");
        return With(name);
    }

    public static void DropPostgresDatabase(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        NpgsqlConnection.ClearAllPools();
        TryDrop(name);
    }

    /// <summary>An open connection to an app's store, either provider.</summary>
    public static DbConnection Open(string connectionString)
    {
        DbConnection connection = Database.IsPostgres(connectionString)
            ? new NpgsqlConnection(connectionString)
            : new SqliteConnection(connectionString);
        connection.Open();
        return connection;
    }

    private static string With(string database) =>
        // Many apps are alive at once in a run, each with its pool: small pools that let idle connections go soon keep
        // the server's connection slots for the apps that are working.
        new NpgsqlConnectionStringBuilder(RequireServer())
        {
            Database = database, Pooling = true, MaxPoolSize = 20, ConnectionIdleLifetime = 5, ConnectionPruningInterval = 2,
        }.ConnectionString;

    private static void Execute(string sql)
    {
        using var connection = new NpgsqlConnection(RequireServer());
        connection.Open();
        connection.Execute(sql);
    }

    private static void TryDrop(string name)
    {
        try
        {
            Execute($"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        }
        catch (NpgsqlException)
        {
            // The server went first (the run is ending): the cluster is thrown away with it.
        }
    }
}
