using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Problems;

namespace Tally.Api.Features.Health;

public sealed class HealthResponse
{
    public required string Status { get; init; }
}

public sealed class Live : EndpointWithoutRequest<HealthResponse>
{
    public override void Configure()
    {
        Get("/health/live");
        RoutePrefixOverride(string.Empty);
        AllowAnonymous();
        Tags("Operations");
        Summary(s => s.Summary = "Liveness: the process answers");
    }

    public override Task HandleAsync(CancellationToken ct) => Send.OkAsync(new HealthResponse { Status = "live" }, ct);
}

public sealed class Ready(Database database) : EndpointWithoutRequest<HealthResponse>
{
    public override void Configure()
    {
        Get("/health/ready");
        RoutePrefixOverride(string.Empty);
        AllowAnonymous();
        Tags("Operations");
        Summary(s =>
        {
            s.Summary = "Readiness: the database is reachable, migrated and writable";
            s.Responses[503] = "Not ready.";
        });
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        try
        {
            await using var connection = await database.OpenAsync(ct);
            if (!await Migrator.IsUpToDateAsync(connection, ct))
                throw new InvalidOperationException("Migrations are pending.");
            await using var command = connection.CreateCommand();
            // BEGIN IMMEDIATE takes the write lock: it fails when the file cannot be written.
            command.CommandText = "BEGIN IMMEDIATE; ROLLBACK;";
            await command.ExecuteNonQueryAsync(ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw ProblemException.Unavailable("The database is not ready: " + ex.GetType().Name switch
            {
                "SqliteException" => "storage error.",
                _ => "not migrated.",
            }, TimeSpan.FromSeconds(5));
        }
        await Send.OkAsync(new HealthResponse { Status = "ready" }, ct);
    }
}
