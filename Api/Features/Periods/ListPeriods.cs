using System.ComponentModel;
using System.Globalization;
using Dapper;
using FastEndpoints;
using Tally.Api.Data;
using Tally.Api.Http;
using Tally.Api.Security;

namespace Tally.Api.Features.Periods;

public sealed class ListPeriodsRequest : IPagedRequest
{
    [Description("At most this many years (1 to 1000, default 100).")]
    public int? Limit { get; set; }

    [Description("The nextCursor of the previous page.")]
    public string? Cursor { get; set; }
}

public sealed class ListPeriodsValidator : Validator<ListPeriodsRequest>
{
    public ListPeriodsValidator() => this.AddPagingRules();
}

[NotOrgScoped("periods and their locks are the same for every org unit.")]
public sealed class ListPeriods(Database database) : Endpoint<ListPeriodsRequest, Page<PeriodResponse>>
{
    private const string CursorKind = "period";

    public override void Configure()
    {
        Get("/periods");
        Policies(ApiScopes.AnyKey);
        Summary(s =>
        {
            s.Summary = "List the years with active events or a lock row, with their locks";
            s.Description = "Ordered by year. A key bound to an org unit sees the years with data in its subtree, and "
                + "every year that is or was locked (locks hold for all org units).";
        });
    }

    public override async Task HandleAsync(ListPeriodsRequest req, CancellationToken ct)
    {
        var after = Paging.DecodeOrThrow(CursorKind, req.Cursor);
        var afterYear = 0;
        if (after.Length > 0 && !int.TryParse(after, NumberStyles.None, CultureInfo.InvariantCulture, out afterYear))
            throw Problems.ProblemException.Validation("cursor", Problems.Text.Say("cursor 对此列表无效。", "The cursor is not valid for this list."));
        var limit = Paging.LimitOf(req);
        await using var connection = await database.OpenAsync(ct);
        var rows = (await connection.QueryAsync<PeriodRow>(new CommandDefinition(
            $"""
            WITH years AS (
                SELECT DISTINCT CAST(substr(month, 1, 4) AS INTEGER) AS year
                FROM monthly_unit_rollups
                WHERE @bound IS NULL OR org_unit IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @bound)
                UNION
                SELECT year FROM periods
            )
            SELECT y.year, coalesce(p.locked, 0) AS locked, p.locked_at AS LockedAt, p.lock_reason AS LockReason
            FROM years y LEFT JOIN periods p ON p.year = y.year
            WHERE y.year > @afterYear
            ORDER BY y.year
            LIMIT @take
            """, new { bound = HttpContext.Caller().OrgUnit, afterYear, take = limit + 1 }, cancellationToken: ct))).ToList();
        var page = Paging.ToPage(CursorKind, rows, limit, r => r.Year.ToString(CultureInfo.InvariantCulture));
        await Send.OkAsync(new Page<PeriodResponse>(page.Items.Select(r => r.ToResponse()).ToList(), page.NextCursor), ct);
    }
}
