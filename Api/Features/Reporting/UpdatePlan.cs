using Dapper;
using FastEndpoints;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.Security;

namespace Tally.Api.Features.Reporting;

public sealed class UpdatePlanRequest : PlanFields
{
}

public sealed class UpdatePlanValidator : Validator<UpdatePlanRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public UpdatePlanValidator()
        : this(RequestServices.Catalog)
    {
    }

    private UpdatePlanValidator(CatalogCache catalog) => this.AddPlanFieldRules(catalog);
}

[UnboundKeysOnly("a plan names reporters anywhere in the tree; only a key bound to none may change it.")]
public sealed class UpdatePlan(LedgerWriter writer) : Endpoint<UpdatePlanRequest, PlanResponse>
{
    public override void Configure()
    {
        Put("/reporting/plans/{code}");
        Policies(ApiScopes.Admin);
        Summary(s =>
        {
            s.Summary = "Replace a reporting plan's fields";
            s.Description = "The body is the plan without its code. Submissions already made keep the cells they froze. "
                + "Audited as reporting-plan.updated.";
        });
    }

    public override async Task HandleAsync(UpdatePlanRequest req, CancellationToken ct) =>
        await Send.OkAsync(await writer.SubmitAsync(new UpdatePlanCommand(Route<string>("code")!, req, HttpContext.Caller().Actor), ct), ct);
}

public sealed class UpdatePlanCommand(string code, UpdatePlanRequest req, Actor actor) : LedgerCommand<PlanResponse>
{
    protected override PlanResponse Run(LedgerContext context)
    {
        if (PlanRow.Find(context.Connection, context.Transaction, code) is null)
            throw PlanRow.NotFound(code);
        PlanStorage.RequireKnown(context, req);
        context.Connection.Execute(
            """
            UPDATE reporting_plans
            SET name = @Name, metrics = @metrics, frequency = @Frequency, reporters = @reporters, due_days = @dueDays,
                starts_on = @startsOn, ends_on = @endsOn, updated_at = @now
            WHERE code = @code
            """, PlanStorage.Parameters(code, req, context.Now), context.Transaction);
        var plan = PlanRow.Find(context.Connection, context.Transaction, code)!.ToResponse();
        context.Audit(actor, "reporting-plan.updated", "reporting-plan:" + code, AuditChain.ToJsonObject(plan));
        return plan;
    }
}
