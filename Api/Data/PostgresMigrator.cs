using System.Reflection;
using DbUp;
using DbUp.Engine;

namespace Tally.Api.Data;

/// <summary>
/// Applies migrations/postgresql/NNNN_*.sql (embedded in the assembly as <c>postgresql-migrations.*</c>) in order to a
/// PostgreSQL database given by an Npgsql connection string, recording them in DbUp's schemaversions table: the same
/// tables and meaning as SQLite's migrations leave.
/// </summary>
public static class PostgresMigrator
{
    private const string Prefix = "postgresql-migrations.";

    public static IReadOnlyList<string> ScriptNames { get; } = LoadScripts().Select(s => s.Name).ToList();

    public static IReadOnlyList<string> Migrate(string connectionString)
    {
        var upgrader = DeployChanges.To
            .PostgresqlDatabase(connectionString)
            .WithScripts(LoadScripts())
            .WithTransactionPerScript()
            .LogToNowhere()
            .Build();
        var result = upgrader.PerformUpgrade();
        if (!result.Successful)
            throw new InvalidOperationException($"PostgreSQL migration {result.ErrorScript?.Name} failed.", result.Error);
        return result.Scripts.Select(s => s.Name).ToList();
    }

    private static List<SqlScript> LoadScripts()
    {
        var assembly = Assembly.GetExecutingAssembly();
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n =>
            {
                using var stream = assembly.GetManifestResourceStream(n)!;
                using var reader = new StreamReader(stream);
                return new SqlScript(n[Prefix.Length..], reader.ReadToEnd());
            })
            .ToList();
    }
}
