using System.ComponentModel;
using System.Globalization;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Events;

/// <summary>
/// The query filters GET /events and GET /events/export share (CONTRACT.md, Events). Besides these properties the query
/// takes <c>dim.&lt;key&gt;=&lt;value&gt;</c>, once per key, read by <see cref="EventFilters.Resolve"/>.
/// </summary>
[QueryPrefix(EventFilters.DimensionPrefix,
    "dim.<key>=<value>: only events whose dimension <key> has that value (a code the metric declares, or its name); repeat for "
    + "different keys, each key once.")]
public abstract class EventFilterQuery
{
    [Description("Metric code.")]
    public string? Metric { get; set; }

    [Description("Org unit code; its descendants are included. A key bound to an org unit defaults to its own.")]
    public string? OrgUnit { get; set; }

    [Description("false: the org unit alone (given or the key's own), without its descendants; true (default): with them.")]
    public string? IncludeDescendants { get; set; }

    [Description("Campaign code.")]
    public string? Campaign { get; set; }

    [Description("The source (client system) that recorded the events.")]
    public string? Source { get; set; }

    [Description("First day of occurredOn, inclusive (yyyy-MM-dd).")]
    public string? From { get; set; }

    [Description("Last day of occurredOn, inclusive (yyyy-MM-dd).")]
    public string? To { get; set; }

    [Description("active (default), voided or all.")]
    public string? Status { get; set; }

    [Description("Only events recorded strictly after this UTC instant (ISO-8601, e.g. 2025-01-06T09:30:00Z).")]
    public string? RecordedAfter { get; set; }
}

public enum EventStatusFilter { Active, Voided, All }

/// <summary>One dim.&lt;key&gt;=&lt;value&gt; filter: the event's dimension key holds exactly that value code.</summary>
public sealed record DimensionFilter(string Key, string Value);

/// <summary>Validated filters, ready to become SQL.</summary>
public sealed record EventFilter(
    string? Metric, string? OrgUnit, bool OrgUnitHasDescendants, string? Campaign, string? Source, DateOnly? From,
    DateOnly? To, EventStatusFilter Status, DateTimeOffset? RecordedAfter, IReadOnlyList<DimensionFilter>? Dimensions = null)
{
    /// <summary>
    /// The WHERE clause (without the word) and its parameters; <paramref name="afterId"/> continues a page, and
    /// <paramref name="recordedAfterSeq"/> (see <see cref="EventSeq.LastRecordedThrough"/>) is where
    /// <see cref="RecordedAfter"/> begins in seq order. Rows are read in seq order, which is id order (ORDER BY e.seq).
    /// Two plans: seek or walk. A period of at most <paramref name="daySeekSpan"/> days, or a metric or org unit that
    /// <paramref name="fewMatches"/> (see <see cref="FewMatches"/>), is sought through an index (ix_events_day,
    /// ix_events_metric_day, ix_events_unit_day: one day of them comes out in seq order, more is sorted, and little is
    /// sorted). Otherwise no index is offered (a unary + on metric, org unit and days) and SQLite walks the table in seq
    /// order and stops after a page, instead of sorting every match of a large metric or a district.
    /// </summary>
    public (string Where, Dictionary<string, object?> Parameters) ToSql(string? afterId = null, int daySeekSpan = 1,
        long recordedAfterSeq = 0, bool fewMatches = false, Sql? sql = null)
    {
        sql ??= Sql.Of(StorageProvider.Sqlite);
        var conditions = new List<string>();
        var parameters = new Dictionary<string, object?>(StringComparer.Ordinal);
        void Add(string condition, string name, object? value)
        {
            conditions.Add(condition);
            parameters[name] = value;
        }

        // A unary + keeps a term out of index choice (https://sqlite.org/optoverview.html#disqualifying_where_clause_terms_using_unary_).
        var seeksDays = From is { } first && To is { } last && last.DayNumber - first.DayNumber < Math.Max(daySeekSpan, 1);
        var walk = !(seeksDays || (fewMatches && (Metric is not null || OrgUnit is not null)));
        if (!string.IsNullOrEmpty(afterId))
            Add("e.seq > (SELECT seq FROM events WHERE id = @afterId)", "afterId", afterId);
        if (Metric is not null)
            Add($"{sql.Column("e.metric", walk)} = @metric", "metric", Metric);
        if (OrgUnit is not null)
        {
            Add(OrgUnitHasDescendants
                ? $"{sql.Column("e.org_unit", walk)} IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @orgUnit)"
                : $"{sql.Column("e.org_unit", walk)} = @orgUnit", "orgUnit", OrgUnit);
        }
        if (Campaign is not null)
            Add("e.campaign = @campaign", "campaign", Campaign);
        if (Source is not null)
            Add("e.source = @source", "source", Source);
        if (From is { } day && To == day)
            Add("e.occurred_on = @day", "day", day);
        else
        {
            if (From is { } from)
                Add($"{sql.Column("e.occurred_on", walk)} >= @from", "from", from);
            if (To is { } to)
                Add($"{sql.Column("e.occurred_on", walk)} <= @to", "to", to);
        }
        if (RecordedAfter is { } recordedAfter)
        {
            // The seq bound makes it a range of the table; the instant itself stays exact for events committed since.
            Add("e.recorded_at > @recordedAfter", "recordedAfter", Instant.ToStorage(recordedAfter));
            Add("e.seq > @recordedAfterSeq", "recordedAfterSeq", recordedAfterSeq);
        }
        // No index holds dimensions: these terms only test rows the index chosen above yields, in id order.
        for (var i = 0; i < (Dimensions?.Count ?? 0); i++)
        {
            Add($"{sql.JsonText("e.dimensions", $"dimPath{i}")} = @dimValue{i}", $"dimPath{i}", sql.JsonKey(Dimensions![i].Key));
            parameters[$"dimValue{i}"] = Dimensions[i].Value;
        }
        if (Status == EventStatusFilter.Active)
            conditions.Add("e.voided_at IS NULL");
        else if (Status == EventStatusFilter.Voided)
            conditions.Add("e.voided_at IS NOT NULL");
        return (conditions.Count == 0 ? "1 = 1" : string.Join(" AND ", conditions), parameters);
    }

    /// <summary>
    /// <see cref="ToSql"/> with what the database says, in the snapshot of <paramref name="transaction"/>: where
    /// <see cref="RecordedAfter"/> begins in seq order, and whether the metric or unit holds few events.
    /// </summary>
    public (string Where, Dictionary<string, object?> Parameters) ToSql(System.Data.Common.DbConnection connection,
        System.Data.Common.DbTransaction? transaction, string? afterId = null, int daySeekSpan = 1) =>
        ToSql(afterId, daySeekSpan,
            RecordedAfter is { } recordedAfter ? EventSeq.LastRecordedThrough(connection, transaction, recordedAfter) : 0,
            FewMatches(connection, transaction), Sql.Of(connection));

    /// <summary>At most this many active events match by the rollups: an index seek and a sort beat a walk.</summary>
    public const long FewMatchesLimit = 20_000;

    /// <summary>
    /// Whether the filter's metric and org unit (with its subtree) over its months hold few events, by the monthly
    /// rollups (active events; a plan choice, so the voided ones they leave out do not matter): a street's events are
    /// then sought through ix_events_unit_day instead of walking the whole ledger to fill a page.
    /// </summary>
    public bool FewMatches(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction? transaction)
    {
        if (Metric is null && OrgUnit is null)
            return false;
        var conditions = new List<string> { "1 = 1" };
        if (Metric is not null)
            conditions.Add("metric = @metric");
        if (OrgUnit is not null)
            conditions.Add(OrgUnitHasDescendants
                ? "org_unit IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @orgUnit)"
                : "org_unit = @orgUnit");
        if (From is not null)
            conditions.Add("month >= @fromMonth");
        if (To is not null)
            conditions.Add("month <= @toMonth");
        var events = Dapper.SqlMapper.ExecuteScalar<long>(connection, new Dapper.CommandDefinition(
            $"SELECT coalesce(sum(events), 0) FROM (SELECT events FROM monthly_unit_rollups WHERE {string.Join(" AND ", conditions)} LIMIT 100000) AS capped",
            new { metric = Metric, orgUnit = OrgUnit, fromMonth = From?.ToString("yyyy-MM", CultureInfo.InvariantCulture),
                toMonth = To?.ToString("yyyy-MM", CultureInfo.InvariantCulture) }, transaction));
        return events <= FewMatchesLimit;
    }
}

public static class EventFilters
{
    public const int MaxSourceLength = 200;
    public const string DimensionPrefix = "dim.";

    /// <summary>Rules for the shared filters: each bad value is a 400 keyed by its parameter.</summary>
    public static void AddEventFilterRules<T>(this AbstractValidator<T> validator, CatalogCache catalog) where T : EventFilterQuery
    {
        validator.RuleFor(x => x.Metric).Must(m => m is null || catalog.Current.Metrics.ContainsKey(m))
            .WithMessage(x => catalog.Current.UnknownMetric(x.Metric));
        validator.RuleFor(x => x.OrgUnit).Must(o => o is null || catalog.Current.OrgUnits.ContainsKey(o))
            .WithMessage(x => catalog.Current.UnknownOrgUnit(x.OrgUnit));
        validator.RuleFor(x => x.Campaign).Must(c => c is null || catalog.Current.Campaigns.ContainsKey(c))
            .WithMessage(x => catalog.Current.UnknownCampaign(x.Campaign));
        validator.RuleFor(x => x.Source).Length(1, MaxSourceLength)
            .WithMessage(_ => Text.Say($"source 须为 1 到 {MaxSourceLength} 个字符。", $"source must be 1 to {MaxSourceLength} characters."));
        validator.RuleFor(x => x.From).Must(d => d is null || TryParseDay(d, out _))
            .WithMessage(_ => Text.Say("from 须为日期：yyyy-MM-dd。", "from must be a calendar day, yyyy-MM-dd."));
        validator.RuleFor(x => x.To).Must(d => d is null || TryParseDay(d, out _))
            .WithMessage(_ => Text.Say("to 须为日期：yyyy-MM-dd。", "to must be a calendar day, yyyy-MM-dd."));
        validator.RuleFor(x => x.To)
            .Must((x, to) => !(TryParseDay(x.From, out var from) && TryParseDay(to, out var until) && from > until))
            .WithMessage(_ => Text.Say("to 不得早于 from。", "to must not be before from."));
        validator.RuleFor(x => x.Status).Must(s => s is null || TryParseStatus(s, out _))
            .WithMessage(_ => Text.Say("status 须为 active、voided 或 all。", "status must be active, voided or all."));
        validator.RuleFor(x => x.RecordedAfter).Must(r => r is null || Instant.TryParse(r, out _))
            .WithMessage(_ => Text.Say("recordedAfter 须为时刻，例如 2025-01-06T09:30:00Z。", "recordedAfter must be an instant such as 2025-01-06T09:30:00Z."));
        validator.RuleFor(x => x.IncludeDescendants).Must(i => i is null or "true" or "false")
            .WithMessage(_ => Text.Say("includeDescendants 须为 true 或 false。", "includeDescendants must be true or false."));
    }

    /// <summary>
    /// The filter after validation, with the org unit a bound key defaults to (403 outside its subtree), and the
    /// dim.&lt;key&gt; parameters of <paramref name="query"/> (400 keyed by the parameter when the metric, or without a
    /// metric every metric, declares no such key or value).
    /// </summary>
    public static EventFilter Resolve(EventFilterQuery request, IQueryCollection query, ApiKeyRecord caller, CatalogSnapshot catalog)
    {
        var dimensions = DimensionsOf(query, request.Metric, catalog);
        var orgUnit = OrgScope.Effective(caller, request.OrgUnit, catalog);
        // Validation has passed: every value present parses.
        var from = TryParseDay(request.From, out var first) ? first : null;
        var to = TryParseDay(request.To, out var last) ? last : null;
        var status = TryParseStatus(request.Status, out var parsed) ? parsed : EventStatusFilter.Active;
        DateTimeOffset? recordedAfter = Instant.TryParse(request.RecordedAfter, out var instant) ? instant : null;
        var descendants = request.IncludeDescendants != "false" && orgUnit is not null && catalog.Subtree(orgUnit).Count > 1;
        return new EventFilter(request.Metric, orgUnit, descendants, request.Campaign, request.Source, from, to, status,
            recordedAfter, dimensions);
    }

    private static List<DimensionFilter> DimensionsOf(IQueryCollection query, string? metric, CatalogSnapshot catalog) =>
        DimensionFilters(query, metric is not null && catalog.Metrics.TryGetValue(metric, out var named)
            ? [named]
            : catalog.Metrics.Values.ToList(), metric);

    /// <summary>
    /// The dim.&lt;key&gt;=&lt;value&gt; filters of a query (GET /events, its export, GET /totals), each value as its code:
    /// given by code, or by its name (an extension of the contract); 400 for a key or value none of
    /// <paramref name="metrics"/> declares. <paramref name="metric"/> names the one metric asked for, if one was.
    /// </summary>
    public static List<DimensionFilter> DimensionFilters(IQueryCollection query, IReadOnlyList<MetricDefinition> metrics, string? metric)
    {
        var filters = new List<DimensionFilter>();
        var errors = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (var (name, values) in query)
        {
            if (!name.StartsWith(DimensionPrefix, StringComparison.Ordinal))
                continue;
            var key = name[DimensionPrefix.Length..];
            var value = values.ToString();
            var declared = metrics.Select(m => m.Dimension(key)).OfType<DimensionDefinition>().ToList();
            var scope = metric is null ? "any metric" : $"metric '{metric}'";
            // A code, or a name (an extension): a name that two metrics give to different codes says nothing.
            var codes = declared.Select(d => d.CodeOf(value)).OfType<string>().Distinct(StringComparer.Ordinal).ToList();
            var code = declared.Any(d => d.Values.Contains(value, StringComparer.Ordinal)) ? value
                : codes.Count == 1 ? codes[0] : null;
            if (declared.Count == 0)
                errors[name] = [Text.Say($"{(metric is null ? "没有指标" : $"指标 {metric} ")}声明维度“{key}”。",
                    $"Unknown dimension '{key}' for {scope}.")];
            else if (code is null)
                errors[name] = [codes.Count > 1
                    ? Text.Say($"“{value}”在不同指标中是 {key} 的不同值（{string.Join(", ", codes)}）：请用代码或指定 metric。",
                        $"'{value}' names different values of dimension '{key}' in different metrics ({string.Join(", ", codes)}): give the code, or a metric.")
                    : Text.Say($"“{value}”不是维度 {key} 的值；可用：{string.Join(", ", declared.Select(d => d.Describe()).Distinct(StringComparer.Ordinal))}。",
                        $"Unknown value '{value}' of dimension '{key}' for {scope}; it takes: "
                        + string.Join(", ", declared.SelectMany(d => d.Values).Distinct(StringComparer.Ordinal)) + " (a code or its name).")];
            else
                filters.Add(new DimensionFilter(key, code));
        }
        if (errors.Count > 0)
            throw ProblemException.Validation(errors);
        return filters;
    }

    private static bool TryParseDay(string? text, out DateOnly? day)
    {
        day = null;
        if (text is null)
            return false;
        if (!DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var parsed))
            return false;
        day = parsed;
        return true;
    }

    private static bool TryParseStatus(string? text, out EventStatusFilter status)
    {
        status = text switch
        {
            null or "active" => EventStatusFilter.Active,
            "voided" => EventStatusFilter.Voided,
            "all" => EventStatusFilter.All,
            _ => (EventStatusFilter)(-1),
        };
        return Enum.IsDefined(status);
    }
}
