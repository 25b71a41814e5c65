using DbUp;

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
    public static IReadOnlyList<string> Migrate(string connectionString) =>
        Migrator.Upgrade(DeployChanges.To.PostgresqlDatabase(connectionString), Prefix);
}
