using FastEndpoints;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

[NotOrgScoped("A key bound to an org unit lists only its subtree.")]
public sealed class ListOrgUnits(CatalogCache catalog) : Endpoint<CatalogListRequest, Page<OrgUnitResponse>>
{
    public override void Configure()
    {
        Get("/org-units");
        Policies(ApiScopes.AnyKey);
        Summary(s =>
        {
            s.Summary = "List org units";
            s.Description = "A key bound to an org unit sees that unit and its descendants.";
        });
    }

    public override Task HandleAsync(CatalogListRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        var snapshot = catalog.Current;
        var visible = snapshot.OrgUnits.Values
            .Where(o => OrgScope.CanReach(caller, o.Code, snapshot))
            .OrderBy(o => o.Position);
        return Send.OkAsync(InMemoryPaging.ByPosition("org-unit", visible, o => o.Position, req, OrgUnitResponse.From), ct);
    }
}
