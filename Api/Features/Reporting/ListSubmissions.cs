using System.ComponentModel;
using Dapper;
using FastEndpoints;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Features.Catalog;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Reporting;

public sealed class ListSubmissionsRequest : IPagedRequest
{
    [Description("A plan code: only its submissions.")]
    public string? Plan { get; set; }

    [Description("A period (2024, 2024-Q3, 2024-07): only submissions of it.")]
    public string? Period { get; set; }

    [Description("An org unit code: submissions of that unit and its descendants. Default: the key's own org unit, or the whole tree.")]
    public string? OrgUnit { get; set; }

    [Description("submitted, approved or returned: only submissions in that state.")]
    public string? State { get; set; }

    [Description("At most this many submissions (1 to 1000, default 100).")]
    public int? Limit { get; set; }

    [Description("The nextCursor of the previous page.")]
    public string? Cursor { get; set; }
}

public sealed class ListSubmissionsValidator : Validator<ListSubmissionsRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public ListSubmissionsValidator()
        : this(RequestServices.Catalog)
    {
    }

    private ListSubmissionsValidator(CatalogCache catalog)
    {
        this.AddPagingRules();
        RuleFor(x => x.Plan).Matches(Codes.Pattern).WithMessage("must match " + Codes.Pattern + ".");
        RuleFor(x => x.Period).MaximumLength(10);
        RuleFor(x => x.OrgUnit).Must(o => o is null || catalog.Current.OrgUnits.ContainsKey(o))
            .WithMessage(x => Text.Say($"未知单位 '{Codes.Quote(x.OrgUnit)}'。", $"Unknown org unit '{Codes.Quote(x.OrgUnit)}'."));
        RuleFor(x => x.State).Must(s => s is null or SubmissionRow.Submitted or SubmissionRow.Approved or SubmissionRow.Returned)
            .WithMessage(_ => Text.Say("state 应为 submitted、approved 或 returned。", "state must be submitted, approved or returned."));
    }
}

[OrgScoped(ScopedName.OrgUnit, ScopedIn.Query, "orgUnit")]
public sealed class ListSubmissions(Database database, CatalogCache catalog) : Endpoint<ListSubmissionsRequest, Page<SubmissionResponse>>
{
    private const string CursorKind = "reporting-submission";

    public override void Configure()
    {
        Get("/reporting/submissions");
        Policies(ApiScopes.TotalsRead);
        Summary(s =>
        {
            s.Summary = "List submissions (every one, returned ones too), ordered by id";
            s.Description = "A re-submission after a return is a new submission; the returned one stays with its reason.";
        });
    }

    public override async Task HandleAsync(ListSubmissionsRequest req, CancellationToken ct)
    {
        var orgUnit = OrgScope.Effective(HttpContext.Caller(), req.OrgUnit, catalog.Current);
        var after = Paging.DecodeOrThrow(CursorKind, req.Cursor);
        var limit = Paging.LimitOf(req);
        await using var connection = await database.OpenAsync(ct);
        var rows = (await connection.QueryAsync<SubmissionRow>(new CommandDefinition(
            $"""
            SELECT {SubmissionRow.Columns} FROM reporting_submissions
            WHERE id > @after
              AND (@plan IS NULL OR plan = @plan) AND (@period IS NULL OR period = @period) AND (@state IS NULL OR state = @state)
              AND (@orgUnit IS NULL OR org_unit IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @orgUnit))
            ORDER BY id LIMIT @take
            """, new { after, plan = req.Plan, period = req.Period, state = req.State, orgUnit, take = limit + 1 }, cancellationToken: ct))).ToList();
        var page = Paging.ToPage(CursorKind, rows, limit, r => r.Id);
        await Send.OkAsync(new Page<SubmissionResponse>(page.Items.Select(r => r.ToResponse()).ToList(), page.NextCursor), ct);
    }
}
