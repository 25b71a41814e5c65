using FastEndpoints;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

[NotOrgScoped("Metrics are shared by all org units.")]
public sealed class GetMetric(CatalogCache catalog) : Endpoint<CatalogCodeRequest, MetricResponse>
{
    public override void Configure()
    {
        Get("/metrics/{code}");
        Policies(ApiScopes.AnyKey);
        Summary(s => s.Summary = "Get a metric");
    }

    public override Task HandleAsync(CatalogCodeRequest req, CancellationToken ct) =>
        catalog.Current.Metrics.TryGetValue(req.Code, out var metric)
            ? Send.OkAsync(MetricResponse.From(metric), ct)
            : throw ProblemException.NotFound(Text.Say($"没有指标“{Codes.Quote(req.Code)}”。", $"No metric '{Codes.Quote(req.Code)}'."));
}
