using Dapper;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Reports;

/// <summary>
/// The metrics as the catalog stood at an instant, from <c>metric_history</c> (every state a metric has had, from the
/// instant of its write): a report at an earlier asOf names, words and counts what was active then.
/// </summary>
public static class MetricsAsOf
{
    /// <summary>The metrics active at <paramref name="asOf"/>, in catalog order, with their definitions then.</summary>
    public static async Task<IReadOnlyList<MetricDefinition>> ActiveAsync(Database database, DateTimeOffset asOf, CancellationToken ct)
    {
        await using var connection = await database.OpenAsync(ct);
        var rows = await connection.QueryAsync<CatalogSnapshot.MetricRow>(new CommandDefinition(
            """
            SELECT h.code, h.position, h.name, h.name_en AS NameEn, h.unit, h.description, h.dimensions,
                   h.report_template AS ReportTemplate, h.approximate, h.active
            FROM metric_history h
            WHERE h.valid_from = (SELECT max(valid_from) FROM metric_history WHERE code = h.code AND valid_from <= @asOf)
              AND h.active = 1
            ORDER BY h.position
            """, new { asOf }, cancellationToken: ct));
        return rows.Select(r => r.ToDefinition()).ToList();
    }
}
