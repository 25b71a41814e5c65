using Microsoft.Data.Sqlite;

namespace Tally.Bench;

/// <summary>The Tally schema, applied from the same migrations/*.sql files the service embeds.</summary>
public static class Schema
{
    public static void Create(string databasePath, string migrationsFolder)
    {
        using var connection = OpenFresh(databasePath);
        foreach (var script in Directory.GetFiles(migrationsFolder, "*.sql").Order(StringComparer.Ordinal))
        {
            using var command = connection.CreateCommand();
            command.CommandText = File.ReadAllText(script);
            command.ExecuteNonQuery();
        }
    }

    /// <summary>A new empty database file (any old one and its WAL removed) in WAL mode, on an unpooled connection.</summary>
    public static SqliteConnection OpenFresh(string databasePath)
    {
        foreach (var file in new[] { databasePath, databasePath + "-wal", databasePath + "-shm" })
            File.Delete(file);
        var connection = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        connection.Open();
        using var wal = connection.CreateCommand();
        wal.CommandText = "PRAGMA journal_mode = WAL;";
        wal.ExecuteNonQuery();
        return connection;
    }
}

/// <summary>The rows both sides of a comparison write: the same metrics, days, dimensions and externalIds.</summary>
public static class Rows
{
    private static readonly (string Metric, string? Key, string[] Values)[] Shapes =
    [
        ("websites.cleaned", "category", ["pornography", "gambling"]),
        ("leads.handled", "kind", ["infringement", "fraud"]),
        ("outreach.sessions", "venue", ["government", "community", "enterprise", "commercial"]),
        ("accounts.interviewed", null, []),
    ];

    public static (string Metric, string OccurredOn, long Quantity, string? DimensionKey, string? DimensionValue) Of(long i)
    {
        var shape = Shapes[i % Shapes.Length];
        var day = new DateOnly(2024, 1, 1).AddDays((int)(i % 366));
        var value = shape.Key is null ? null : shape.Values[(i / Shapes.Length) % shape.Values.Length];
        return (shape.Metric, day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), 1 + (i % 100),
            shape.Key, value);
    }

    /// <summary>Dimensions as Tally stores them: a JSON object with sorted keys.</summary>
    public static string DimensionsJson(string? key, string? value) => key is null ? "{}" : $$"""{"{{key}}":"{{value}}"}""";
}
