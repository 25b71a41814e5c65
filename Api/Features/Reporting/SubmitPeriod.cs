using Dapper;
using FastEndpoints;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Features.Catalog;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Reporting;

public sealed class SubmitPeriodRequest
{
    public string? Plan { get; set; }
    public string? Period { get; set; }
    public string? OrgUnit { get; set; }
}

public sealed class SubmitPeriodValidator : Validator<SubmitPeriodRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public SubmitPeriodValidator()
        : this(RequestServices.Catalog)
    {
    }

    private SubmitPeriodValidator(CatalogCache catalog)
    {
        RuleFor(x => x.Plan).ValidCode();
        RuleFor(x => x.Period).NotEmpty().MaximumLength(10);
        RuleFor(x => x.OrgUnit).NotEmpty().Must(o => o is null || catalog.Current.OrgUnits.ContainsKey(o))
            .WithMessage(x => Text.Say($"未知单位 '{Codes.Quote(x.OrgUnit)}'。", $"Unknown org unit '{Codes.Quote(x.OrgUnit)}'."));
    }
}

[ProblemResponse(404, "No such reporting plan.")]
[ProblemResponse(409, "The unit has a live (submitted or approved) submission of this period (conflict).")]
[OrgScoped(ScopedName.OrgUnit, ScopedIn.Body, "orgUnit")]
public sealed class SubmitPeriod(LedgerWriter writer, TimeProvider clock) : Endpoint<SubmitPeriodRequest, SubmissionResponse>
{
    public override void Configure()
    {
        Post("/reporting/submissions");
        Description(b => b.Creates<SubmissionResponse>());
        Policies(ApiScopes.EventsWrite);
        Summary(s =>
        {
            s.Summary = "Submit a unit's period of a plan: its figures are complete";
            s.Description = "From then on every write into the unit's own events of the plan's metrics in that period "
                + "(create, batch item, upsert, void, import row) is refused with 409 period-submitted, until an "
                + "ancestor's key returns it. The unit must be one of the plan's reporters and the period must have "
                + "begun (office time zone). Audited as reporting.submitted.";
        });
    }

    public override async Task HandleAsync(SubmitPeriodRequest req, CancellationToken ct)
    {
        var today = OfficeClock.Today(clock);
        var submission = await writer.SubmitAsync(new SubmitPeriodCommand(req, today, HttpContext.Caller().Actor), ct);
        HttpContext.Response.Headers.Location = $"/api/v1/reporting/submissions?plan={submission.Plan}&period={submission.Period}&orgUnit={submission.OrgUnit}";
        await Send.ResponseAsync(submission, StatusCodes.Status201Created, ct);
    }
}

public sealed class SubmitPeriodCommand(SubmitPeriodRequest req, DateOnly today, Actor actor) : LedgerCommand<SubmissionResponse>
{
    protected override SubmissionResponse Run(LedgerContext context)
    {
        var (connection, transaction) = (context.Connection, context.Transaction);
        var plan = PlanRow.Find(connection, transaction, req.Plan!) ?? throw PlanRow.NotFound(req.Plan);
        var period = plan.PeriodOf(req.Period);
        var orgUnit = req.OrgUnit!;
        if (!plan.ReporterList.Contains(orgUnit))
            throw ProblemException.Validation("orgUnit", Text.Say(
                $"单位 {orgUnit} 不是报送计划 {plan.Code} 的报送单位。", $"Org unit {orgUnit} is not a reporter of plan {plan.Code}."));
        if (period.From > today)
            throw ProblemException.Validation("period", Text.Say(
                $"{period.Name} 期尚未开始，不能提交。", $"Period {period.Name} has not begun; it cannot be submitted yet."));
        if (connection.ExecuteScalar<bool>(
                """
                SELECT EXISTS (SELECT 1 FROM reporting_submissions
                               WHERE plan = @plan AND period = @period AND org_unit = @orgUnit AND state IN ('submitted', 'approved'))
                """, new { plan = plan.Code, period = period.Name, orgUnit }, transaction))
            throw ProblemException.Conflict(Text.Say(
                $"单位 {orgUnit} 已提交报送计划 {plan.Code} 的 {period.Name} 期。",
                $"Org unit {orgUnit} has already submitted period {period.Name} of plan {plan.Code}."));

        var id = context.Ids.Next("sub_");
        connection.Execute(
            """
            INSERT INTO reporting_submissions (id, plan, period, org_unit, state, submitted_at, submitted_by)
            VALUES (@id, @plan, @period, @orgUnit, 'submitted', @now, @keyId)
            """, new { id, plan = plan.Code, period = period.Name, orgUnit, now = context.Now, keyId = actor.KeyId ?? "" },
            transaction);
        // The cells this submission freezes: the plan's metrics as they are now, for each month of the period.
        connection.Execute(
            """
            INSERT INTO reporting_frozen_cells (org_unit, metric, month, submission_id)
            VALUES (@orgUnit, @metric, @month, @id)
            ON CONFLICT DO NOTHING
            """,
            plan.MetricList.SelectMany(m => period.Months().Select(month => new { orgUnit, metric = m, month, id })), transaction);
        var submission = SubmissionRow.Find(connection, transaction, id)!.ToResponse();
        context.Audit(actor, "reporting.submitted", "reporting-submission:" + id, AuditChain.ToJsonObject(submission));
        return submission;
    }
}
