using FastEndpoints;
using Prometheus;
using Tally.Api.Http;
using Tally.Api.Security;

namespace Tally.Api.Features.Operations;

/// <summary>GET /metrics: every counter, gauge and histogram of the process in Prometheus text format, for a scraper.</summary>
[NotOrgScoped("an operations route: no key, names nothing org-scoped")]
public sealed class ScrapeMetrics : EndpointWithoutRequest
{
    public override void Configure()
    {
        Get("/metrics");
        RoutePrefixOverride(string.Empty);
        AllowAnonymous();
        Tags("Operations");
        Options(b => b.ForOperations());
        Description(b => b.Produces<string>(200, "text/plain"));
        Summary(s =>
        {
            s.Summary = "Prometheus metrics";
            s.Description = "Prometheus text format (version 0.0.4): http_requests_received_total and "
                + "http_request_duration_seconds by method, code and route (endpoint); tally_ledger_queue_depth, "
                + "tally_ledger_group_size (histogram), tally_ledger_commit_duration (histogram, seconds), tally_ledger_events_stored, "
                + "tally_ledger_storage_failures (counters); and the .NET runtime's own.";
        });
    }

    public override async Task HandleAsync(CancellationToken ct)
    {
        HttpContext.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        await Metrics.DefaultRegistry.CollectAndExportAsTextAsync(HttpContext.Response.Body, ct);
    }
}
