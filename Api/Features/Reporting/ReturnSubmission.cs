using Dapper;
using FastEndpoints;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Features.Catalog;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Reporting;

public sealed class ReturnSubmissionRequest
{
    public string Id { get; set; } = "";
    public string? Reason { get; set; }
}

public sealed class ReturnSubmissionValidator : Validator<ReturnSubmissionRequest>
{
    public const int MaxReason = 500;

    public ReturnSubmissionValidator()
    {
        RuleFor(x => x.Reason).NotEmpty().MaximumLength(MaxReason).PlainText();
    }
}

[ProblemResponse(404, "No such submission.")]
[ProblemResponse(409, "The submission is not awaiting a decision (conflict).")]
[NotOrgScoped("the handler checks that the key's unit is a strict ancestor of the submitting unit (403 otherwise).")]
public sealed class ReturnSubmission(LedgerWriter writer) : Endpoint<ReturnSubmissionRequest, SubmissionResponse>
{
    public override void Configure()
    {
        Post("/reporting/submissions/{id}/return");
        Policies(ApiScopes.ReportsApprove);
        Summary(s =>
        {
            s.Summary = "Return a submitted period with a reason: it is open for writes again";
            s.Description = "By a key with reports:approve whose unit is a strict ancestor of the submitting unit (or a "
                + "key bound to none). The unit's cells of the period thaw, and the unit may correct and submit it again "
                + "(a new submission). Audited as reporting.returned with the reason.";
        });
    }

    public override async Task HandleAsync(ReturnSubmissionRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        await Send.OkAsync(await writer.SubmitAsync(new ReturnSubmissionCommand(req.Id, req.Reason!, caller.OrgUnit, caller.Actor), ct), ct);
    }
}

public sealed class ReturnSubmissionCommand(string id, string reason, string? callerUnit, Actor actor) : LedgerCommand<SubmissionResponse>
{
    protected override SubmissionResponse Run(LedgerContext context)
    {
        var row = SubmissionDecisions.Decidable(context, id, callerUnit);
        context.Connection.Execute(
            """
            UPDATE reporting_submissions SET state = 'returned', decided_at = @now, decided_by = @keyId, return_reason = @reason
            WHERE id = @id;
            DELETE FROM reporting_frozen_cells WHERE submission_id = @id;
            """, new { id = row.Id, now = context.Now, keyId = actor.KeyId ?? "", reason }, context.Transaction);
        var submission = SubmissionRow.Find(context.Connection, context.Transaction, row.Id)!.ToResponse();
        context.Audit(actor, "reporting.returned", "reporting-submission:" + row.Id, AuditChain.ToJsonObject(submission));
        return submission;
    }
}
