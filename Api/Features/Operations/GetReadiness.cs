using FastEndpoints;
using Microsoft.Data.Sqlite;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;

namespace Tally.Api.Features.Operations;

/// <summary>GET /health/ready: the database is reachable, migrated and writable.</summary>
public sealed class GetReadiness(Database database, LedgerWriter writer) : EndpointWithoutRequest<HealthResponse>
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
            s.Description = "After a failed write (disk full, read-only file, I/O error) each call commits a probe write through "
                + "the ledger writer; the service is ready again as soon as one commits.";
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
            // The lock alone does not show a full disk: after a storage failure only a committed write proves recovery.
            if (writer.StorageFailed && !await ProbeAsync(ct))
                throw new IOException("The ledger writer cannot commit.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw ProblemException.Unavailable("The database is not ready: " + ex switch
            {
                SqliteException or IOException => "storage error.",
                _ => "not migrated.",
            }, TimeSpan.FromSeconds(5));
        }
        await Send.OkAsync(new HealthResponse { Status = "ready" }, ct);
    }

    private async Task<bool> ProbeAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(ProbeTimeout);
        try
        {
            return await writer.ProbeWritableAsync(timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);
}
