using Dapper;
using FastEndpoints;
using Tally.Api.Features.Catalog;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Reporting;

public sealed class CreatePlanRequest : PlanFields
{
    public string? Code { get; set; }
}

public sealed class CreatePlanValidator : Validator<CreatePlanRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public CreatePlanValidator()
        : this(RequestServices.Catalog)
    {
    }

    private CreatePlanValidator(CatalogCache catalog)
    {
        RuleFor(x => x.Code).ValidCode();
        this.AddPlanFieldRules(catalog);
    }
}

[ProblemResponse(409, "A reporting plan with that code exists (conflict).")]
[UnboundKeysOnly("a plan names reporters anywhere in the tree; only a key bound to none may set it.")]
public sealed class CreatePlan(LedgerWriter writer) : Endpoint<CreatePlanRequest, PlanResponse>
{
    public override void Configure()
    {
        Post("/reporting/plans");
        Description(b => b.Creates<PlanResponse>());
        Policies(ApiScopes.Admin);
        Summary(s =>
        {
            s.Summary = "Create a reporting plan: who owes which metrics, how often, due when";
            s.Description = "Each reporter owes each metric for each period (month, quarter or year) from startsOn (to "
                + "endsOn, if given), by dueDays days after the period ends, in the office's time zone. Audited as "
                + "reporting-plan.created.";
        });
    }

    public override async Task HandleAsync(CreatePlanRequest req, CancellationToken ct)
    {
        var plan = await writer.SubmitAsync(new CreatePlanCommand(req, HttpContext.Caller().Actor), ct);
        HttpContext.Response.Headers.Location = $"/api/v1/reporting/plans/{plan.Code}";
        await Send.ResponseAsync(plan, StatusCodes.Status201Created, ct);
    }
}

public sealed class CreatePlanCommand(CreatePlanRequest req, Actor actor) : LedgerCommand<PlanResponse>
{
    protected override PlanResponse Run(LedgerContext context)
    {
        PlanStorage.RequireKnown(context, req);
        var inserted = context.Connection.Execute(
            """
            INSERT INTO reporting_plans (code, name, metrics, frequency, reporters, due_days, starts_on, ends_on, created_at, updated_at)
            VALUES (@code, @Name, @metrics, @Frequency, @reporters, @dueDays, @startsOn, @endsOn, @now, @now)
            ON CONFLICT (code) DO NOTHING
            """, PlanStorage.Parameters(req.Code!, req, context.Now), context.Transaction);
        if (inserted == 0)
            throw ProblemException.Conflict(Text.Say($"报送计划 '{req.Code}' 已存在。", $"Reporting plan '{req.Code}' already exists."));
        var plan = PlanRow.Find(context.Connection, context.Transaction, req.Code!)!.ToResponse();
        context.Audit(actor, "reporting-plan.created", "reporting-plan:" + plan.Code, AuditChain.ToJsonObject(plan));
        return plan;
    }
}
