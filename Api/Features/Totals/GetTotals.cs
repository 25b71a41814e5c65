using System.ComponentModel;
using System.Text.Json.Serialization;
using FastEndpoints;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Features.Events;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Totals;

[QueryPrefix(EventFilters.DimensionPrefix,
    "dim.<key>=<value>: only events whose dimension <key> has that value (a code a requested metric declares, or its "
    + "name); repeat for different keys, each key once.")]
public sealed class GetTotalsRequest
{
    [Description("A calendar year, 2000 to 9999: the period from 1 January to 31 December. Give either year, or from and to.")]
    public int? Year { get; set; }

    [Description("First day of the period (occurredOn, inclusive), together with to.")]
    public DateOnly? From { get; set; }

    [Description("Last day of the period (occurredOn, inclusive), together with from.")]
    public DateOnly? To { get; set; }

    [Description("A metric code; repeat the parameter for several. Named metrics always get a row (value 0 when they have "
        + "no events); without it, every metric with events in the period.")]
    public List<string>? Metric { get; set; }

    [Description("An org unit code: that unit and all its descendants. Default: the key's own org unit, or the whole tree.")]
    public string? OrgUnit { get; set; }

    [Description("A campaign code: only events of that campaign.")]
    public string? Campaign { get; set; }

    [Description("A comma list of quarter, month, orgUnit, campaign, dim.<key>: one row per metric and combination. "
        + "orgUnit groups by each event's own org unit (not by the children of the unit asked for). dim.<key> must be a "
        + "dimension declared by a requested metric; events without it group under null.")]
    public string? GroupBy { get; set; }

    [Description("An instant (not in the future): totals exactly as the ledger stood then, from the raw events: events "
        + "recorded after it are left out and events voided after it are counted.")]
    public DateTimeOffset? AsOf { get; set; }

    [Description("true: only events in (unit, metric, period) cells of approved reporting submissions count (with asOf: "
        + "approved by then), so a published figure holds only what the units' parents signed off. Default false.")]
    public bool? ApprovedOnly { get; set; }
}

public sealed class GetTotalsValidator : Validator<GetTotalsRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public GetTotalsValidator()
        : this(RequestServices.Catalog, RequestServices.Clock)
    {
    }

    private GetTotalsValidator(CatalogCache catalog, TimeProvider clock)
    {
        RuleFor(x => x.Year).InclusiveBetween(Period.FirstYear, Period.LastYear)
            .WithMessage(_ => Text.Say($"year 须在 {Period.FirstYear} 到 {Period.LastYear} 之间。", $"year must be from {Period.FirstYear} to {Period.LastYear}."));
        RuleFor(x => x).Custom((r, ctx) =>
        {
            if (r.Year is not null && (r.From is not null || r.To is not null))
                ctx.AddFailure("year", Text.Say("请给出 year，或 from 与 to，二者不可同时给出。", "Give either year, or from and to; not both."));
            else if (r.Year is null && r.From is null && r.To is null)
                ctx.AddFailure("year", Text.Say("请给出期间：year，或 from 与 to。", "Give a period: year, or from and to."));
            else if (r.Year is null && r.From is null)
                ctx.AddFailure("from", Text.Say("给出 to 时须同时给出 from。", "from is required together with to."));
            else if (r.Year is null && r.To is null)
                ctx.AddFailure("to", Text.Say("给出 from 时须同时给出 to。", "to is required together with from."));
            else if (r.From > r.To)
                ctx.AddFailure("to", Text.Say("to 不得早于 from。", "to must not be before from."));
        });
        RuleFor(x => x.From).GreaterThanOrEqualTo(Period.FirstDay).WithMessage(_ => Text.Say("from 不得早于 2000-01-01。", "from must not be before 2000-01-01."));
        RuleFor(x => x.Metric).Custom((metrics, ctx) =>
        {
            if (metrics is null)
                return;
            if (metrics.Count > 100)
                ctx.AddFailure("metric", Text.Say("至多 100 个指标。", "At most 100 metrics."));
            foreach (var code in metrics.Where(m => !catalog.Current.Metrics.ContainsKey(m)).Distinct(StringComparer.Ordinal).Take(10))
                ctx.AddFailure("metric", catalog.Current.UnknownMetric(code));
        });
        RuleFor(x => x.OrgUnit).Must(o => o is null || catalog.Current.OrgUnits.ContainsKey(o))
            .WithMessage(x => catalog.Current.UnknownOrgUnit(x.OrgUnit));
        RuleFor(x => x.Campaign).Must(c => c is null || catalog.Current.Campaigns.ContainsKey(c))
            .WithMessage(x => catalog.Current.UnknownCampaign(x.Campaign));
        RuleFor(x => x.GroupBy).MaximumLength(500).Custom((text, ctx) =>
        {
            var metrics = RequestedMetrics(catalog.Current, ctx.InstanceToValidate.Metric);
            if (TotalsGroup.Parse(text, metrics, out var error) is null)
                ctx.AddFailure("groupBy", error!);
        });
        RuleFor(x => x.AsOf).Must(a => a is null || a <= clock.GetUtcNow()).WithMessage(_ => Period.FutureAsOfMessage);
    }

    /// <summary>The metrics a request is about: those named (known ones), else the whole catalog, in catalog order.</summary>
    public static List<MetricDefinition> RequestedMetrics(CatalogSnapshot catalog, IEnumerable<string>? named) =>
        named is null
            ? catalog.Metrics.Values.OrderBy(m => m.Position).ToList()
            : named.Distinct(StringComparer.Ordinal).Select(c => catalog.Metrics.GetValueOrDefault(c)).OfType<MetricDefinition>()
                .OrderBy(m => m.Position).ToList();
}

public sealed class TotalsResponse
{
    public required DateOnly From { get; init; }
    public required DateOnly To { get; init; }

    /// <summary>The instant asked for; null for live totals.</summary>
    public required DateTimeOffset? AsOf { get; init; }

    public required IReadOnlyList<TotalsRow> Rows { get; init; }
}

/// <summary>
/// One row of totals: the metric, its unit, the sum and count, then one key per groupBy entry (quarter, month, orgUnit,
/// campaign, dim.&lt;key&gt;), present only when grouped by it and null when the events have no such value.
/// </summary>
[SchemaFilter(typeof(TotalsRowSchema))]
public sealed class TotalsRow
{
    /// <summary>The key of the names a row gives for its orgUnit, campaign and dim.&lt;key&gt; groups (an extension).</summary>
    public const string NamesKey = "names";

    public required string Metric { get; init; }

    /// <summary>The metric's name (an extension of the contract's row): 清理涉黄涉赌网站.</summary>
    public required string Name { get; init; }

    public required string Unit { get; init; }
    public required long Value { get; init; }
    public required long Events { get; init; }

    [JsonExtensionData]
    public Dictionary<string, object?> Groups { get; init; } = [];
}

[ProblemResponse(400, "Invalid period, an unknown metric, org unit, campaign or group, or an asOf in the future.")]
[ExpensiveRead(WhenQuery = "asOf")]
[OrgScoped(ScopedName.OrgUnit, ScopedIn.Query, "orgUnit")]
public sealed class GetTotals(Database database, CatalogCache catalog, LedgerWriter writer)
    : Endpoint<GetTotalsRequest, TotalsResponse>
{
    public override void Configure()
    {
        Get("/totals");
        Policies(ApiScopes.TotalsRead);
        Summary(s =>
        {
            s.Summary = "Totals of active events for a period, filtered and grouped";
            s.Description = "Rows are always per metric: value is the sum of quantities of active events, events their "
                + "count. Without asOf the totals come from rollups kept in the same transaction as every write, so "
                + "they include a write the moment it is answered. With asOf they are the ledger as it stood at that "
                + "instant (events recorded by then and not voided by then), so a published figure can be reproduced "
                + "after later corrections: whole months from as-of rollups that keep every change by the UTC hour it "
                + "was made in, the rest of that hour and any partial month read from the events. "
                + "groupBy=orgUnit groups by each event's own org unit. Rows are ordered by catalog order of the "
                + "metric, then by the group values (null first).";
        });
    }

    public override async Task HandleAsync(GetTotalsRequest req, CancellationToken ct)
    {
        var current = catalog.Current;
        var orgUnit = OrgScope.Effective(HttpContext.Caller(), req.OrgUnit, current);
        var metrics = GetTotalsValidator.RequestedMetrics(current, req.Metric);
        var groups = TotalsGroup.Parse(req.GroupBy, metrics, out _)!;
        var dimensions = EventFilters.DimensionFilters(HttpContext.Request.Query, metrics,
            req.Metric is [var only] ? only : null);
        var (from, to) = Period.Resolve(req.Year, req.From, req.To);
        if (req.AsOf is { } asOf)
            await writer.SettleAsync(asOf, ct);

        var query = new TotalsQuery(from, to, metrics.Select(m => m.Code).ToList(), orgUnit, req.Campaign, groups, req.AsOf,
            dimensions.Select(d => (d.Key, d.Value)).ToList())
        {
            ApprovedOnly = req.ApprovedOnly == true,
        };
        await using var connection = await database.OpenAsync(ct);
        var cells = await query.RunAsync(connection, ct);

        var named = req.Metric?.ToHashSet(StringComparer.Ordinal) ?? [];
        var byMetric = cells.ToLookup(c => c.Metric, StringComparer.Ordinal);
        var rows = new List<TotalsRow>(cells.Count);
        foreach (var metric in metrics)
        {
            var ofMetric = byMetric[metric.Code].ToList();
            if (ofMetric.Count == 0 && named.Contains(metric.Code))
                ofMetric.Add(new TotalsCell(metric.Code, new string?[groups.Count], 0, 0));
            ofMetric.Sort(CompareKeys);
            rows.AddRange(ofMetric.Select(c => new TotalsRow
            {
                Metric = c.Metric, Name = metric.Name, Unit = metric.Unit, Value = c.Value, Events = c.Events,
                Groups = GroupsOf(groups, c.Keys, metric, current),
            }));
        }
        await Send.OkAsync(new TotalsResponse { From = from, To = to, AsOf = req.AsOf, Rows = rows }, ct);
    }

    /// <summary>
    /// The row's group keys, and when it is grouped by orgUnit, campaign or a dimension, "names": the name of each of
    /// those values by the same key (null where the value is null), from today's catalog.
    /// </summary>
    private static Dictionary<string, object?> GroupsOf(List<TotalsGroup> groups, IReadOnlyList<string?> keys,
        MetricDefinition metric, CatalogSnapshot catalog)
    {
        var row = new Dictionary<string, object?>(groups.Count + 1, StringComparer.Ordinal);
        Dictionary<string, string?>? names = null;
        for (var i = 0; i < groups.Count; i++)
        {
            var (group, key) = (groups[i], keys[i]);
            row[group.Name] = key;
            string? name = group.Kind switch
            {
                TotalsGroupKind.OrgUnit => key is null ? null : catalog.OrgUnits.GetValueOrDefault(key)?.Name ?? key,
                TotalsGroupKind.Campaign => key is null ? null : catalog.Campaigns.GetValueOrDefault(key)?.Name ?? key,
                TotalsGroupKind.Dimension => key is null ? null : metric.Dimension(group.DimensionKey!)?.NameOf(key) ?? key,
                _ => null,
            };
            if (group.Kind is TotalsGroupKind.OrgUnit or TotalsGroupKind.Campaign or TotalsGroupKind.Dimension)
                (names ??= new Dictionary<string, string?>(StringComparer.Ordinal))[group.Name] = name;
        }
        if (names is not null)
            row[TotalsRow.NamesKey] = names;
        return row;
    }

    private static int CompareKeys(TotalsCell a, TotalsCell b)
    {
        for (var i = 0; i < a.Keys.Count; i++)
        {
            var order = string.CompareOrdinal(a.Keys[i], b.Keys[i]);
            if (order != 0)
                return order;
        }
        return 0;
    }
}
