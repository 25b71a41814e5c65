using System.Reflection;
using DbUp;
using DbUp.Builder;
using DbUp.Engine;
using Microsoft.Data.Sqlite;

namespace Tally.Api.Data;

/// <summary>Applies migrations/NNNN_*.sql (embedded in the assembly) in order, recording them in schemaversions.</summary>
public static class Migrator
{
    private const string Prefix = "migrations.";

    public static IReadOnlyList<string> ScriptNames { get; } = LoadScripts(Prefix).Select(s => s.Name).ToList();

    /// <summary>Brings the store up to date: SQLite's scripts, or PostgreSQL's (<see cref="PostgresMigrator"/>).</summary>
    public static void Migrate(Database database, ILogger logger)
    {
        var applied = database.IsPostgresProvider
            ? PostgresMigrator.Migrate(database.ConnectionString)
            : MigrateSqlite(database);
        foreach (var script in applied)
            logger.LogInformation("Applied migration {Script}", script);
    }

    private static IReadOnlyList<string> MigrateSqlite(Database database)
    {
        if (database.FilePath is { } file && Path.GetDirectoryName(file) is { Length: > 0 } folder)
            Directory.CreateDirectory(folder);

        using (var connection = new SqliteConnection(database.ConnectionString))
        {
            connection.Open();
            using var wal = connection.CreateCommand();
            wal.CommandText = "PRAGMA journal_mode = WAL;";
            wal.ExecuteNonQuery();
        }

        return Upgrade(DeployChanges.To.SqliteDatabase(database.ConnectionString), Prefix);
    }

    /// <summary>Applies the embedded scripts named <paramref name="prefix"/>NNNN_*.sql in order, each in its own transaction; the names applied.</summary>
    internal static IReadOnlyList<string> Upgrade(UpgradeEngineBuilder target, string prefix)
    {
        var result = target.WithScripts(LoadScripts(prefix)).WithTransactionPerScript().LogToNowhere().Build().PerformUpgrade();
        if (!result.Successful)
            throw new InvalidOperationException($"Migration {result.ErrorScript?.Name} failed.", result.Error);
        return result.Scripts.Select(s => s.Name).ToList();
    }

    /// <summary>The embedded scripts whose resource names start with <paramref name="prefix"/>, in order, named without it.</summary>
    internal static List<SqlScript> LoadScripts(string prefix)
    {
        var assembly = Assembly.GetExecutingAssembly();
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(prefix, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n =>
            {
                using var stream = assembly.GetManifestResourceStream(n)!;
                using var reader = new StreamReader(stream);
                return new SqlScript(n[prefix.Length..], reader.ReadToEnd());
            })
            .ToList();
    }
}
