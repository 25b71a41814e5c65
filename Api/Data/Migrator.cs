using System.Reflection;
using DbUp;
using DbUp.Engine;
using Microsoft.Data.Sqlite;

namespace Tally.Api.Data;

/// <summary>Applies migrations/NNNN_*.sql (embedded in the assembly) in order, recording them in schemaversions.</summary>
public static class Migrator
{
    public static IReadOnlyList<string> ScriptNames { get; } = LoadScripts().Select(s => s.Name).ToList();

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

        var upgrader = DeployChanges.To
            .SqliteDatabase(database.ConnectionString)
            .WithScripts(LoadScripts())
            .WithTransactionPerScript()
            .LogToNowhere()
            .Build();

        var result = upgrader.PerformUpgrade();
        if (!result.Successful)
            throw new InvalidOperationException($"Migration {result.ErrorScript?.Name} failed.", result.Error);
        foreach (var script in result.Scripts)
            logger.LogInformation("Applied migration {Script}", script.Name);
    }

    public static async Task<bool> IsUpToDateAsync(SqliteConnection connection, CancellationToken ct)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM schemaversions";
        var applied = Convert.ToInt32(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        return applied >= ScriptNames.Count;
    }

    private static List<SqlScript> LoadScripts()
    {
        var assembly = Assembly.GetExecutingAssembly();
        return assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("migrations.", StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n =>
            {
                using var stream = assembly.GetManifestResourceStream(n)!;
                using var reader = new StreamReader(stream);
                return new SqlScript(n["migrations.".Length..], reader.ReadToEnd());
            })
            .ToList();
    }
}
