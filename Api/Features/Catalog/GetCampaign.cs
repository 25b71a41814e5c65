using FastEndpoints;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

[NotOrgScoped("Campaigns are shared by all org units.")]
public sealed class GetCampaign(CatalogCache catalog) : Endpoint<CatalogCodeRequest, CampaignResponse>
{
    public override void Configure()
    {
        Get("/campaigns/{code}");
        Policies(ApiScopes.AnyKey);
        Summary(s => s.Summary = "Get a campaign");
    }

    public override Task HandleAsync(CatalogCodeRequest req, CancellationToken ct) =>
        catalog.Current.Campaigns.TryGetValue(req.Code, out var campaign)
            ? Send.OkAsync(CampaignResponse.From(campaign), ct)
            : throw ProblemException.NotFound(Text.Say($"没有专项行动“{Codes.Quote(req.Code)}”。", $"No campaign '{Codes.Quote(req.Code)}'."));
}
