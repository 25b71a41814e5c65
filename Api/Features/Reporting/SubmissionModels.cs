using Dapper;
using System.Data.Common;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Reporting;

/// <summary>A unit's submission of one period of a plan, and what became of it.</summary>
public sealed class SubmissionResponse
{
    public required string Id { get; init; }
    public required string Plan { get; init; }
    public required string Period { get; init; }
    public required string OrgUnit { get; init; }

    /// <summary>submitted, approved or returned.</summary>
    public required string State { get; init; }

    public required DateTimeOffset SubmittedAt { get; init; }
    public required DateTimeOffset? ApprovedAt { get; init; }
    public required DateTimeOffset? ReturnedAt { get; init; }
    public required string? ReturnReason { get; init; }
}

/// <summary>A reporting_submissions row as stored.</summary>
public sealed class SubmissionRow
{
    public const string Submitted = "submitted";
    public const string Approved = "approved";
    public const string Returned = "returned";

    public const string Columns = "id, plan, period, org_unit AS OrgUnit, state, submitted_at AS SubmittedAt, "
        + "decided_at AS DecidedAt, return_reason AS ReturnReason";

    public string Id { get; init; } = "";
    public string Plan { get; init; } = "";
    public string Period { get; init; } = "";
    public string OrgUnit { get; init; } = "";
    public string State { get; init; } = "";
    public DateTimeOffset SubmittedAt { get; init; }
    public DateTimeOffset? DecidedAt { get; init; }
    public string? ReturnReason { get; init; }

    /// <summary>Live: its cells are frozen (submitted, or approved).</summary>
    public bool IsLive => State is Submitted or Approved;

    public SubmissionResponse ToResponse() => new()
    {
        Id = Id, Plan = Plan, Period = Period, OrgUnit = OrgUnit, State = State, SubmittedAt = SubmittedAt,
        ApprovedAt = State == Approved ? DecidedAt : null,
        ReturnedAt = State == Returned ? DecidedAt : null,
        ReturnReason = ReturnReason,
    };

    public static SubmissionRow? Find(DbConnection connection, DbTransaction transaction, string id) =>
        connection.QueryFirstOrDefault<SubmissionRow>(
            $"SELECT {Columns} FROM reporting_submissions WHERE id = @id", new { id }, transaction);
}

/// <summary>Who may decide (approve or return) a submission: a key of a strict ancestor of the submitting unit.</summary>
public static class SubmissionDecisions
{
    /// <summary>
    /// The submission, or 404 (403 for a bound key, which learns nothing of units outside its subtree); 403 when the key's
    /// unit is not a strict ancestor of the submitting unit (an unbound key sits above every unit).
    /// </summary>
    public static SubmissionRow Decidable(LedgerContext context, string id, string? callerUnit)
    {
        var row = SubmissionRow.Find(context.Connection, context.Transaction, id);
        if (row is null || (callerUnit is not null && !context.Catalog.IsWithin(callerUnit, row.OrgUnit)))
        {
            if (callerUnit is null)
                throw ProblemException.NotFound(Text.Say($"没有报送记录 '{Codes.Quote(id)}'。", $"No submission '{Codes.Quote(id)}'."));
            throw ProblemException.Forbidden(Text.Say(
                $"此密钥绑定单位 '{callerUnit}'，无法访问报送记录 '{Codes.Quote(id)}'。",
                $"This API key is bound to org unit '{callerUnit}' and cannot reach submission '{Codes.Quote(id)}'."));
        }
        if (callerUnit == row.OrgUnit)
            throw ProblemException.Forbidden(Text.Say(
                $"报送须由上级单位审核：单位 '{callerUnit}' 不能审核自己的报送。",
                $"A submission is decided by an ancestor unit: a key of '{callerUnit}' cannot decide its own unit's submission."));
        if (row.State != SubmissionRow.Submitted)
            throw ProblemException.Conflict(Text.Say(
                $"报送 {row.Id} 当前状态为 {row.State}，只有待审核（submitted）的报送可以通过或退回。",
                $"Submission {row.Id} is {row.State}; only a submitted one can be approved or returned."));
        return row;
    }
}
