using System.ComponentModel;
using Dapper;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Http;
using Tally.Api.Security;

namespace Tally.Api.Features.Reporting;

public sealed class ListPlansRequest : IPagedRequest
{
    [Description("At most this many plans (1 to 1000, default 100).")]
    public int? Limit { get; set; }

    [Description("The nextCursor of the previous page.")]
    public string? Cursor { get; set; }
}

public sealed class ListPlansValidator : Validator<ListPlansRequest>
{
    public ListPlansValidator() => this.AddPagingRules();
}

[NotOrgScoped("plans name org units by code, which every key may list; status and submissions are scoped.")]
public sealed class ListPlans(Database database) : Endpoint<ListPlansRequest, Page<PlanResponse>>
{
    private const string CursorKind = "reporting-plan";

    public override void Configure()
    {
        Get("/reporting/plans");
        Policies(ApiScopes.TotalsRead);
        Summary(s => s.Summary = "List the reporting plans, ordered by code");
    }

    public override async Task HandleAsync(ListPlansRequest req, CancellationToken ct)
    {
        var after = Paging.DecodeOrThrow(CursorKind, req.Cursor);
        var limit = Paging.LimitOf(req);
        await using var connection = await database.OpenAsync(ct);
        var rows = (await connection.QueryAsync<PlanRow>(new CommandDefinition(
            $"SELECT {PlanRow.Columns} FROM reporting_plans WHERE code > @after ORDER BY code LIMIT @take",
            new { after, take = limit + 1 }, cancellationToken: ct))).ToList();
        var page = Paging.ToPage(CursorKind, rows, limit, r => r.Code);
        await Send.OkAsync(new Page<PlanResponse>(page.Items.Select(r => r.ToResponse()).ToList(), page.NextCursor), ct);
    }
}
