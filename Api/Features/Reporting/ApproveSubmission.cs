using Dapper;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Security;

namespace Tally.Api.Features.Reporting;

public sealed class ApproveSubmissionRequest
{
    public string Id { get; set; } = "";
}

[ProblemResponse(404, "No such submission.")]
[ProblemResponse(409, "The submission is not awaiting a decision (conflict).")]
[NotOrgScoped("the handler checks that the key's unit is a strict ancestor of the submitting unit (403 otherwise).")]
public sealed class ApproveSubmission(LedgerWriter writer) : Endpoint<ApproveSubmissionRequest, SubmissionResponse>
{
    public override void Configure()
    {
        Post("/reporting/submissions/{id}/approve");
        Policies(ApiScopes.ReportsApprove);
        Summary(s =>
        {
            s.Summary = "Approve a submitted period";
            s.Description = "By a key with reports:approve whose unit is a strict ancestor of the submitting unit (or a "
                + "key bound to none). The period stays frozen; its figures count in approvedOnly totals and reports. "
                + "Audited as reporting.approved.";
        });
    }

    public override async Task HandleAsync(ApproveSubmissionRequest req, CancellationToken ct)
    {
        var caller = HttpContext.Caller();
        await Send.OkAsync(await writer.SubmitAsync(new ApproveSubmissionCommand(req.Id, caller.OrgUnit, caller.Actor), ct), ct);
    }
}

public sealed class ApproveSubmissionCommand(string id, string? callerUnit, Actor actor) : LedgerCommand<SubmissionResponse>
{
    protected override SubmissionResponse Run(LedgerContext context)
    {
        var row = SubmissionDecisions.Decidable(context, id, callerUnit);
        context.Connection.Execute(
            "UPDATE reporting_submissions SET state = 'approved', decided_at = @now, decided_by = @keyId WHERE id = @id",
            new { id = row.Id, now = context.Now, keyId = actor.KeyId ?? "" }, context.Transaction);
        var submission = SubmissionRow.Find(context.Connection, context.Transaction, row.Id)!.ToResponse();
        context.Audit(actor, "reporting.approved", "reporting-submission:" + row.Id, AuditChain.ToJsonObject(submission));
        return submission;
    }
}
