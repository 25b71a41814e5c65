using FastEndpoints;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

[OrgScoped(ScopedName.OrgUnit, ScopedIn.Route, "code")]
public sealed class GetOrgUnit(CatalogCache catalog) : Endpoint<CatalogCodeRequest, OrgUnitResponse>
{
    public override void Configure()
    {
        Get("/org-units/{code}");
        Policies(ApiScopes.AnyKey);
        Summary(s => s.Summary = "Get an org unit");
    }

    public override Task HandleAsync(CatalogCodeRequest req, CancellationToken ct) =>
        catalog.Current.OrgUnits.TryGetValue(req.Code, out var unit)
            ? Send.OkAsync(OrgUnitResponse.From(unit), ct)
            : throw ProblemException.NotFound(Text.Say($"没有填报单位“{Codes.Quote(req.Code)}”。", $"No org unit '{Codes.Quote(req.Code)}'."));
}
