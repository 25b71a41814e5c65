using FastEndpoints;
using Tally.Api.Catalog;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Catalog;

public sealed class GetOrgUnit(CatalogCache catalog) : Endpoint<CatalogCodeRequest, OrgUnitResponse>
{
    public override void Configure()
    {
        Get("/org-units/{code}");
        Policies(ApiScopes.AnyKey);
        Summary(s => s.Summary = "Get an org unit");
    }

    public override Task HandleAsync(CatalogCodeRequest req, CancellationToken ct)
    {
        var snapshot = catalog.Current;
        var caller = HttpContext.Caller();
        if (!snapshot.OrgUnits.TryGetValue(req.Code, out var unit))
        {
            // A bound key learns nothing about units outside its subtree, existing or not.
            OrgScope.RequireReach(caller, req.Code, snapshot);
            throw ProblemException.NotFound($"No org unit '{req.Code}'.");
        }
        OrgScope.RequireReach(caller, unit.Code, snapshot);
        return Send.OkAsync(OrgUnitResponse.From(unit), ct);
    }
}
