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

    public static void Migrate(Database database, ILogger logger)
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

        foreach (var script in Upgrade(DeployChanges.To.SqliteDatabase(database.ConnectionString), Prefix))
            logger.LogInformation("Applied migration {Script}", script);
    }

    /// <summary>Applies the embedded scripts named <paramref name="prefix"/>NNNN_*.sql in order, each in its own transaction; the names applied.</summary>
    internal static IReadOnlyList<string> Upgrade(UpgradeEngineBuilder target, string prefix)
    {
        var result = target.WithScripts(LoadScripts(prefix)).WithTransactionPerScript().LogToNowhere().Build().PerformUpgrade();
        if (!result.Successful)
            throw new InvalidOperationException($"Migration {result.ErrorScript?.Name} failed.", result.Error);
        return result.Scripts.Select(s => s.Name).ToList();
    }

    public static async Task<bool> IsUpToDateAsync(SqliteConnection connection, CancellationToken ct)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM schemaversions";
        var applied = Convert.ToInt32(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        return applied >= ScriptNames.Count;
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
