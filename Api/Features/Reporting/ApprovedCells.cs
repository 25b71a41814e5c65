namespace Tally.Api.Features.Reporting;

/// <summary>
/// approvedOnly figures (GET /totals, GET /reports/annual/{year}): only events in (unit, plan metric, month) cells of
/// approved submissions count. One SQL condition over reporting_frozen_cells, which totals and reports add to their
/// own sources. Approval is final, so an approved cell stays.
/// </summary>
public static class ApprovedCells
{
    /// <summary>
    /// EXISTS over an approved cell for a row whose metric, month (yyyy-MM) and org unit are the given SQL expressions
    /// (qualified: the condition is correlated); with <paramref name="asOfParameter"/>, approved by that instant.
    /// </summary>
    public static string Condition(string metric, string month, string orgUnit, string? asOfParameter = null) =>
        $"""
        EXISTS (SELECT 1 FROM reporting_frozen_cells approved_cell
                JOIN reporting_submissions approved_by ON approved_by.id = approved_cell.submission_id
                WHERE approved_cell.org_unit = {orgUnit} AND approved_cell.metric = {metric} AND approved_cell.month = {month}
                  AND approved_by.state = 'approved'{(asOfParameter is null ? "" : $" AND approved_by.decided_at <= {asOfParameter}")})
        """;
}
