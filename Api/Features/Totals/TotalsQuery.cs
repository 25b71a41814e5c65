using System.Globalization;
using System.Text;
using Dapper;
using System.Data.Common;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Totals;

/// <summary>One total: a metric, the values of its groups (in groupBy order), the sum of quantities and the count of events.</summary>
public sealed record TotalsCell(string Metric, IReadOnlyList<string?> Keys, long Value, long Events);

/// <summary>
/// Sums of active events for a period, filters and grouping. Live totals read the rollups (cost grows with
/// days x metrics x units, not with events): whole months from monthly_unit_rollups (or monthly_rollups when campaign
/// or dimensions matter), the partial months at either end from daily_rollups. With an as-of instant t, whole months
/// come from the as-of rollups (asof_unit_*_rollups, or asof_*_rollups when campaign or dimensions matter): the sums of
/// the changes per UTC month, day and hour of the change, cut at t, and the changes of t's hour on t's side read from
/// the ledger
/// (<see cref="AsOfCut"/> says why that is exact); the days of partial months at either end are read from the raw
/// ledger (events recorded by t and not voided by t), as before. The org-unit filter means the tree as it stands now,
/// as it always has at asOf: events keep the unit they were recorded in, and a subtree is today's closure.
/// </summary>
public sealed record TotalsQuery(
    DateOnly From, DateOnly To, IReadOnlyList<string> Metrics, string? OrgUnit, string? Campaign,
    IReadOnlyList<TotalsGroup> Groups, DateTimeOffset? AsOf, IReadOnlyList<(string Key, string Value)>? Dimensions = null)
{
    /// <summary>Only events in (unit, metric, month) cells of approved reporting submissions (approved by AsOf, if given).</summary>
    public bool ApprovedOnly { get; init; }

    /// <summary>The dialect of the connection <see cref="RunAsync"/> was given.</summary>
    private Sql _sql = Sql.Of(StorageProvider.Sqlite);

    public async Task<List<TotalsCell>> RunAsync(DbConnection connection, CancellationToken ct)
    {
        if (Metrics.Count == 0)
            return [];
        _sql = Sql.Of(connection);
        var parameters = new DynamicParameters();
        parameters.Add("metrics", Metrics);
        parameters.Add("orgUnit", OrgUnit);
        parameters.Add("campaign", Campaign);
        for (var i = 0; i < (Dimensions?.Count ?? 0); i++)
        {
            parameters.Add($"dimPath{i}", _sql.JsonKey(Dimensions![i].Key));
            parameters.Add($"dimValue{i}", Dimensions[i].Value);
        }
        // At asOf the cut and the rows it reads share one read snapshot: rows of t's own hour may still be growing.
        await using var transaction = AsOf is null ? null : connection.BeginSnapshot();
        var sources = AsOf is { } asOf ? AsOfSources(connection, transaction, parameters, asOf) : RollupSources(parameters);

        var select = new StringBuilder("SELECT metric");
        for (var i = 0; i < Groups.Count; i++)
        {
            var group = Groups[i];
            if (group.DimensionKey is { } key)
                parameters.Add($"dim{i}", _sql.JsonKey(key));
            select.Append(CultureInfo.InvariantCulture, $", {GroupExpression(_sql, group, i)} AS g{i}");
        }
        var groupBy = string.Join(", ", Enumerable.Range(1, Groups.Count + 1));
        var sql = $"{select}, sum(value) AS value, sum(events) AS events\nFROM (\n{string.Join("\nUNION ALL\n", sources)}\n) AS sources\nGROUP BY {groupBy}"
            // At asOf a group whose events were all voided by then sums to 0 events: the ledger would show no such group.
            + (AsOf is null ? "" : "\nHAVING sum(events) <> 0");

        // A plain reader: a grouped year can be thousands of rows, and Dapper's dynamic rows cost several times more.
        await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(sql, parameters, transaction, cancellationToken: ct));
        var cells = new List<TotalsCell>();
        while (await reader.ReadAsync(ct))
        {
            var keys = new string?[Groups.Count];
            for (var i = 0; i < keys.Length; i++)
                keys[i] = reader.IsDBNull(i + 1) ? null : reader.GetString(i + 1);
            cells.Add(new TotalsCell(reader.GetString(0), keys, reader.GetInt64(keys.Length + 1), reader.GetInt64(keys.Length + 2)));
        }
        return cells;
    }

    /// <summary>Whole months then come from monthly_rollups; otherwise from the smaller monthly_unit_rollups.</summary>
    private bool NeedsCampaignOrDimensions =>
        Campaign is not null || Dimensions is { Count: > 0 } || Groups.Any(g => g.Kind is TotalsGroupKind.Campaign or TotalsGroupKind.Dimension);

    /// <summary>Every source yields (metric, month, org_unit, campaign, dimensions, value, events); groups read only those.</summary>
    private static string GroupExpression(Sql sql, TotalsGroup group, int index) => group.Kind switch
    {
        TotalsGroupKind.Quarter => "substr(month, 1, 4) || '-Q' || ((CAST(substr(month, 6, 2) AS INTEGER) + 2) / 3)",
        TotalsGroupKind.Month => "month",
        TotalsGroupKind.OrgUnit => "org_unit",
        TotalsGroupKind.Campaign => "campaign",
        _ => sql.JsonText("dimensions", $"dim{index}"),
    };

    /// <param name="byUnit">false where the rows are found otherwise (a seq range): "+org_unit" keeps SQLite from
    /// reading the subtree's every event through ix_events_unit_day instead.</param>
    private string Filters(string campaignColumn, string monthExpression = "src.month", bool byUnit = true) =>
        (OrgUnit is null ? "" : $"\n  AND {_sql.Column("org_unit", unindexed: !byUnit)} IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @orgUnit)")
        + (Campaign is null ? "" : $"\n  AND {campaignColumn} = @campaign")
        + string.Concat(Enumerable.Range(0, Dimensions?.Count ?? 0)
            .Select(i => $"\n  AND {_sql.JsonText("dimensions", $"dimPath{i}")} = @dimValue{i}"))
        + (ApprovedOnly
            ? "\n  AND " + Reporting.ApprovedCells.Condition("src.metric", monthExpression, "src.org_unit", AsOf is null ? null : "@asOf")
            : "");

    /// <summary>
    /// The sources as of an instant: whole months from the as-of rollups and the cut's window of the ledger, partial
    /// months from the raw ledger.
    /// </summary>
    private List<string> AsOfSources(DbConnection connection, DbTransaction? transaction, DynamicParameters parameters,
        DateTimeOffset asOf)
    {
        parameters.Add("asOf", asOf);
        var sources = new List<string>();
        AsOfCut? cut = null;
        foreach (var (span, index) in RollupSpan.Cover(From, To).Select((s, i) => (s, i)))
        {
            parameters.Add($"from{index}", span.From);
            parameters.Add($"to{index}", span.To);
            if (!span.Monthly)
            {
                sources.Add(EventsSource(index));
                continue;
            }
            if (cut is null)
            {
                cut = AsOfCut.Find(connection, transaction, asOf);
                cut.Bind(parameters);
                parameters.Add("cutSign", cut.Sign);
            }
            // The unit family has no campaign or dimensions columns; they are only asked for when they matter.
            var campaignAndDimensions = NeedsCampaignOrDimensions ? "nullif(campaign, '') AS campaign, dimensions" : "NULL AS campaign, NULL AS dimensions";
            foreach (var part in cut.Parts(unitFamily: !NeedsCampaignOrDimensions))
            {
                sources.Add($"""
                    SELECT metric, month, org_unit, {campaignAndDimensions},
                           {part.Sign} * value AS value, {part.Sign} * events AS events
                    FROM {part.Table} src
                    WHERE {part.Condition} AND {_sql.InList("metric", "metrics")} AND month BETWEEN @from{index} AND @to{index}{Filters("campaign")}
                    """);
            }
            // "+metric", "+org_unit": the window is a seq (rowid) range or a few ids; without statistics SQLite would
            // search every event of the metrics (or of the subtree) through ix_events_metric_day (ix_events_unit_day).
            foreach (var (window, sign) in new[] { (AsOfCut.RecordedCondition, "@cutSign"), (AsOfCut.VoidedCondition, "-@cutSign") })
            {
                sources.Add($"""
                    SELECT metric, substr(occurred_on, 1, 7) AS month, org_unit, campaign, dimensions,
                           {sign} * quantity AS value, {sign} AS events
                    FROM events src
                    WHERE {window} AND {_sql.InList(_sql.Unindexed("metric"), "metrics")} AND substr(occurred_on, 1, 7) BETWEEN @from{index} AND @to{index}{Filters("campaign", "substr(src.occurred_on, 1, 7)", byUnit: false)}
                    """);
            }
        }
        return sources;
    }

    /// <summary>The raw ledger as of an instant over one span of days; for a subtree, "+metric" steers SQLite to the (org_unit, occurred_on) index.</summary>
    private string EventsSource(int index) =>
        $"""
            SELECT metric, substr(occurred_on, 1, 7) AS month, org_unit, campaign, dimensions, quantity AS value, 1 AS events
            FROM events src
            WHERE {_sql.InList(_sql.Column("metric", unindexed: OrgUnit is not null), "metrics")} AND occurred_on BETWEEN @from{index} AND @to{index}
              AND recorded_at <= @asOf AND (voided_at IS NULL OR voided_at > @asOf){Filters("campaign", "substr(src.occurred_on, 1, 7)")}
            """;

    private List<string> RollupSources(DynamicParameters parameters)
    {
        var sources = new List<string>();
        foreach (var (span, index) in RollupSpan.Cover(From, To).Select((s, i) => (s, i)))
        {
            parameters.Add($"from{index}", span.From);
            parameters.Add($"to{index}", span.To);
            // "metric IN" first: every rollup key starts with the metric, so each metric is one range seek.
            sources.Add(span.Monthly && !NeedsCampaignOrDimensions
                ? $"""
                    SELECT metric, month, org_unit, NULL AS campaign, NULL AS dimensions, value, events
                    FROM monthly_unit_rollups src
                    WHERE {_sql.InList("metric", "metrics")} AND month BETWEEN @from{index} AND @to{index}{Filters("campaign")}
                    """
                : span.Monthly
                ? $"""
                    SELECT metric, month, org_unit, nullif(campaign, '') AS campaign, dimensions, value, events
                    FROM monthly_rollups src
                    WHERE {_sql.InList("metric", "metrics")} AND month BETWEEN @from{index} AND @to{index}{Filters("campaign")}
                    """
                : $"""
                    SELECT metric, substr(day, 1, 7) AS month, org_unit, nullif(campaign, '') AS campaign, dimensions, value, events
                    FROM daily_rollups src
                    WHERE {_sql.InList("metric", "metrics")} AND day BETWEEN @from{index} AND @to{index}{Filters("campaign", "substr(src.day, 1, 7)")}
                    """);
        }
        return sources;
    }
}

/// <summary>A stretch of a period read from one rollup table: whole months (yyyy-MM bounds) or days (yyyy-MM-dd bounds).</summary>
public sealed record RollupSpan(bool Monthly, string From, string To)
{
    /// <summary>Covers [from, to] exactly: the whole months inside it, and the days of a partial month at either end.</summary>
    public static IReadOnlyList<RollupSpan> Cover(DateOnly from, DateOnly to)
    {
        var firstWhole = MonthIndex(from) + (from.Day == 1 ? 0 : 1);
        var lastWhole = MonthIndex(to) - (IsMonthEnd(to) ? 0 : 1);
        if (firstWhole > lastWhole)
            return [Days(from, to)];
        var spans = new List<RollupSpan>(3);
        if (from.Day != 1)
            spans.Add(Days(from, new DateOnly(from.Year, from.Month, DateTime.DaysInMonth(from.Year, from.Month))));
        spans.Add(new RollupSpan(true, MonthText(firstWhole), MonthText(lastWhole)));
        if (!IsMonthEnd(to))
            spans.Add(Days(new DateOnly(to.Year, to.Month, 1), to));
        return spans;
    }

    private static RollupSpan Days(DateOnly from, DateOnly to) => new(false, Day.ToStorage(from), Day.ToStorage(to));

    private static bool IsMonthEnd(DateOnly day) => day.Day == DateTime.DaysInMonth(day.Year, day.Month);

    private static int MonthIndex(DateOnly day) => (day.Year * 12) + day.Month - 1;

    private static string MonthText(int index) =>
        string.Create(CultureInfo.InvariantCulture, $"{index / 12:D4}-{(index % 12) + 1:D2}");
}
