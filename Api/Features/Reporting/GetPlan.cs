using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Security;

namespace Tally.Api.Features.Reporting;

public sealed class GetPlanRequest
{
    public string Code { get; set; } = "";
}

[NotOrgScoped("plans name org units by code, which every key may list; status and submissions are scoped.")]
public sealed class GetPlan(Database database) : Endpoint<GetPlanRequest, PlanResponse>
{
    public override void Configure()
    {
        Get("/reporting/plans/{code}");
        Policies(ApiScopes.TotalsRead);
        Summary(s => s.Summary = "A reporting plan");
    }

    public override async Task HandleAsync(GetPlanRequest req, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var plan = await PlanRow.FindAsync(connection, req.Code, ct) ?? throw PlanRow.NotFound(req.Code);
        await Send.OkAsync(plan.ToResponse(), ct);
    }
}
