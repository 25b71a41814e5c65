using FastEndpoints;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;

namespace Tally.Api.Features.Operations;

/// <summary>
/// GET /health/ready: the database is reachable, migrated and writable, as the ledger writer knows it. It never takes
/// the write lock itself (a pooled BEGIN IMMEDIATE waits behind a large import for up to 30 s), so it answers within a
/// second whatever the writer is doing.
/// </summary>
[ProblemResponse(503, "Not ready (storage failed, or the ledger writer has stopped): retry after Retry-After.")]
public sealed class GetReadiness(LedgerWriter writer) : EndpointWithoutRequest<HealthResponse>
{
    /// <summary>How long a recovery probe may wait for the writer before readiness answers 503 anyway.</summary>
    private static readonly TimeSpan ProbeWait = TimeSpan.FromMilliseconds(800);

    public override void Configure()
    {
        Get("/health/ready");
        RoutePrefixOverride(string.Empty);
        AllowAnonymous();
        Tags("Operations");
        Options(b => b.ForOperations());
        Summary(s =>
        {
            s.Summary = "Readiness: the database is reachable, migrated and writable";
            s.Description = "Answers from the ledger writer's state within a second: ready once migrations ran and while its last "
                + "commit succeeded. After a failed write (disk full, read-only file, I/O error) each call commits a probe write "
                + "through the writer; the service is ready again as soon as one commits. A query string is ignored.";
        });
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        if (!writer.Running)
            throw NotReady(Text.Say("账本写入器未运行。", "the ledger writer is not running."));
        // Only a committed write proves storage has recovered; the probe goes through the writer's own queue.
        if (writer.StorageFailed && !await ProbeAsync(ct))
            throw NotReady(Text.Say("存储出错。", "storage error."));
        await Send.OkAsync(new HealthResponse { Status = "ready" }, ct);
    }

    private async Task<bool> ProbeAsync(CancellationToken ct)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(ProbeWait);
        try
        {
            // The probe, once queued, still commits after this wait ends: a later call then finds the writer healthy.
            return await writer.ProbeWritableAsync(CancellationToken.None).WaitAsync(wait.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    private static ProblemException NotReady(string why) =>
        ProblemException.Unavailable(Text.Say("数据库尚未就绪：", "The database is not ready: ") + why, TimeSpan.FromSeconds(5));
}
