using FastEndpoints;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

[NotOrgScoped("Metrics are shared by all org units.")]
public sealed class ListMetrics(CatalogCache catalog) : Endpoint<CatalogListRequest, Page<MetricResponse>>
{
    public override void Configure()
    {
        Get("/metrics");
        Policies(ApiScopes.AnyKey);
        Summary(s => s.Summary = "List metrics in catalog order");
    }

    public override Task HandleAsync(CatalogListRequest req, CancellationToken ct) =>
        Send.OkAsync(InMemoryPaging.ByPosition("metric", catalog.Current.Metrics.Values.OrderBy(m => m.Position),
            m => m.Position, req, MetricResponse.From), ct);
}
