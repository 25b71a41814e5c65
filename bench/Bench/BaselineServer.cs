using System.Globalization;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Tally.Bench;

/// <summary>
/// The baseline for single POSTs: a bare minimal API that inserts the same event row as Tally's POST /events, in one
/// transaction per request, with synchronous=NORMAL (not durable) or FULL. No auth, validation, rollups or audit.
/// </summary>
public static class BaselineServer
{
    public sealed record Body(string Metric, string OccurredOn, long Quantity, string OrgUnit, string? Campaign,
        Dictionary<string, string>? Dimensions, string? ExternalId, string? Note);

    public static async Task<int> RunAsync(Options options)
    {
        var databasePath = options.Get("db");
        Schema.Create(databasePath, options.Get("migrations"));
        var synchronous = options.Get("sync").ToUpperInvariant() is "FULL" ? "FULL" : "NORMAL";
        var connectionString = $"Data Source={databasePath}";

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(options.Get("urls"));
        var app = builder.Build();
        app.MapPost("/events", (Body body) =>
        {
            var id = "evt_" + Guid.CreateVersion7().ToString("N");
            using var connection = new SqliteConnection(connectionString);
            connection.Open();
            connection.Execute($"PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON; PRAGMA synchronous = {synchronous};");
            using var transaction = connection.BeginTransaction(deferred: false);
            connection.Execute(
                """
                INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note,
                                    source, recorded_at)
                VALUES (@id, @Metric, @OccurredOn, @Quantity, @OrgUnit, @Campaign, @dimensions, @ExternalId, @Note,
                        'bench', @recordedAt)
                """,
                new
                {
                    id, body.Metric, body.OccurredOn, body.Quantity, body.OrgUnit, body.Campaign,
                    dimensions = JsonSerializer.Serialize(new SortedDictionary<string, string>(body.Dimensions ?? [], StringComparer.Ordinal)),
                    body.ExternalId, body.Note,
                    recordedAt = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture),
                }, transaction);
            transaction.Commit();
            return Results.Created($"/events/{id}", new { id });
        });
        app.MapGet("/health/ready", () => Results.Ok());
        await app.RunAsync();
        return 0;
    }
}
