using FastEndpoints;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

[NotOrgScoped("Campaigns are shared by all org units.")]
public sealed class ListCampaigns(CatalogCache catalog) : Endpoint<CatalogListRequest, Page<CampaignResponse>>
{
    public override void Configure()
    {
        Get("/campaigns");
        Policies(ApiScopes.AnyKey);
        Summary(s => s.Summary = "List campaigns");
    }

    public override Task HandleAsync(CatalogListRequest req, CancellationToken ct) =>
        Send.OkAsync(InMemoryPaging.ByPosition("campaign", catalog.Current.Campaigns.Values.OrderBy(c => c.Position),
            c => c.Position, req, CampaignResponse.From), ct);
}
