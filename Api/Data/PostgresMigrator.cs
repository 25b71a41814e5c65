using DbUp;
using Npgsql;

namespace Tally.Api.Data;

/// <summary>
/// Applies migrations/postgresql/NNNN_*.sql (embedded in the assembly as <c>postgresql-migrations.*</c>) in order to a
/// PostgreSQL database given by an Npgsql connection string, recording them in DbUp's schemaversions table: the same
/// tables and meaning as SQLite's migrations leave (<see cref="Migrator"/>).
/// </summary>
public static class PostgresMigrator
{
    private const string Prefix = "postgresql-migrations.";

    public static IReadOnlyList<string> ScriptNames { get; } = Migrator.LoadScripts(Prefix).Select(s => s.Name).ToList();

    /// <summary>The names of the scripts applied now (none when the database is up to date).</summary>
    /// <remarks>
    /// Processes started together each migrate: the first to take a session advisory lock applies the scripts, the
    /// others wait for it and then find nothing to do.
    /// </remarks>
    public static IReadOnlyList<string> Migrate(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        using (var take = new NpgsqlCommand($"SELECT pg_advisory_lock({LockKey})", connection))
            take.ExecuteNonQuery();
        try
        {
            return Migrator.Upgrade(DeployChanges.To.PostgresqlDatabase(connectionString), Prefix);
        }
        finally
        {
            using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({LockKey})", connection);
            release.ExecuteNonQuery();
        }
    }

    /// <summary>The migrations' advisory lock ("tallymig"), apart from the writers' (<c>WriterLock</c>).</summary>
    private const long LockKey = 0x74616C6C796D6967;
}
