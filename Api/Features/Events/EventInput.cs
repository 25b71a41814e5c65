using FastEndpoints;
using FluentValidation;
using Tally.Api.Features.Catalog;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.Problems;

namespace Tally.Api.Features.Events;

/// <summary>The fields of an event other than its externalId: the body of an upsert, whose externalId is in the route.</summary>
public class EventFields
{
    public string? Metric { get; set; }
    public DateOnly? OccurredOn { get; set; }
    public long? Quantity { get; set; }
    public string? OrgUnit { get; set; }
    public string? Campaign { get; set; }
    public Dictionary<string, string?>? Dimensions { get; set; }
    public string? Note { get; set; }

    /// <summary>
    /// The validated fields as the ledger takes them, each dimension value given by its name turned into its code
    /// (so the same event posted with a code and with a name is the same content); call only after validation passed.
    /// </summary>
    public NewEvent ToNewEventWith(string? externalId, CatalogSnapshot catalog) => new(
        Metric!, OccurredOn!.Value, Quantity!.Value, OrgUnit!, Campaign,
        DimensionCodes(catalog.Metrics.GetValueOrDefault(Metric!), Dimensions), externalId, Note);

    /// <summary>Each value as its code: a code stays, a name becomes the code it names, anything else stays as given.</summary>
    public static SortedDictionary<string, string> DimensionCodes(MetricDefinition? metric, IEnumerable<KeyValuePair<string, string?>>? given)
    {
        var codes = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in given ?? [])
            codes[key] = metric?.Dimension(key)?.CodeOf(value) ?? value!;
        return codes;
    }
}

/// <summary>The fields of one event as a client sends it: POST /events, each batch item.</summary>
public class EventInput : EventFields
{
    public string? ExternalId { get; set; }

    /// <summary>The validated input as the ledger takes it; call only after validation passed.</summary>
    public NewEvent ToNewEvent(CatalogSnapshot catalog) => ToNewEventWith(ExternalId, catalog);
}

/// <summary>Every rule CONTRACT.md sets on an event, checked against the in-memory catalog.</summary>
public sealed class EventInputRules : AbstractValidator<EventInput>
{
    public static string ExternalIdMessage =>
        Text.Say("externalId（外部编号）须为 1 到 200 个字符，且不含控制字符。", "externalId must be 1 to 200 characters without control characters.");

    public EventInputRules(CatalogCache catalog, TimeProvider clock)
    {
        Include(new EventFieldRules(catalog, clock));
        RuleFor(x => x.ExternalId).Length(1, 200).WithMessage(_ => ExternalIdMessage).Must(NoControlCharacters).WithMessage(_ => ExternalIdMessage);
    }

    public static bool IsValidExternalId(string? externalId) =>
        externalId is { Length: >= 1 and <= 200 } && NoControlCharacters(externalId);

    private static bool NoControlCharacters(string? text) => text is null || !text.Any(char.IsControl);
}

/// <summary>The rules on an event's fields other than externalId.</summary>
public sealed class EventFieldRules : AbstractValidator<EventFields>
{
    public const long MaxQuantity = 1_000_000_000;

    /// <summary>Why a quantity is refused: below 1, or past the most one event records (a whole number either way).</summary>
    public static string QuantityMessage(long? quantity) => quantity < 1
        ? Text.Say($"quantity（数量）须至少为 1（现为 {quantity}）；没有可报的数量时不必记录事件。",
            $"quantity must be at least 1 (it is {quantity}); a day with nothing to report needs no event.")
        : Text.Say($"quantity（数量）至多为 {MaxQuantity:N0}（现为 {quantity:N0}）。",
            $"quantity must be at most {MaxQuantity:N0} (it is {quantity:N0}).");

    private static string NoteMessage => Text.Say("note（备注）至多 2000 个字符，除换行和制表符外不得含控制字符。",
        "note must be at most 2000 characters, without control characters other than line breaks and tabs.");
    public static readonly DateOnly FirstDay = new(2000, 1, 1);

    public EventFieldRules(CatalogCache catalog, TimeProvider clock)
    {
        RuleFor(x => x.Metric).NotEmpty().WithMessage(_ => Text.Say("metric（指标）为必填项。", "metric is required."))
            .Must(m => string.IsNullOrEmpty(m) || (catalog.Current.Metrics.TryGetValue(m, out var metric) && metric.Active))
            .WithMessage(x => catalog.Current.Metrics.ContainsKey(x.Metric!)
                ? Text.Say($"指标“{x.Metric}”已停用。", $"Metric '{x.Metric}' is inactive.")
                : catalog.Current.UnknownMetric(x.Metric));
        RuleFor(x => x.OccurredOn).NotNull().WithMessage(_ => Text.Say("occurredOn（日期）为必填项。", "occurredOn is required."))
            .GreaterThanOrEqualTo(FirstDay).WithMessage(_ => Text.Say("occurredOn（日期）不得早于 2000-01-01。", "occurredOn must not be before 2000-01-01."))
            .Must(d => d is null || d <= OfficeClock.Today(clock))
            .WithMessage(_ => Text.Say($"occurredOn（日期）不得晚于今天（{clock.LocalTimeZone.Id} 时区的 {OfficeClock.Today(clock):yyyy-MM-dd}）。",
                $"occurredOn must not be after today ({OfficeClock.Today(clock):yyyy-MM-dd} in {clock.LocalTimeZone.Id})."));
        RuleFor(x => x.Quantity).NotNull().WithMessage(_ => Text.Say("quantity（数量）为必填项。", "quantity is required."))
            .InclusiveBetween(1, MaxQuantity).WithMessage(x => QuantityMessage(x.Quantity));
        RuleFor(x => x.OrgUnit).NotEmpty().WithMessage(_ => Text.Say("orgUnit（填报单位）为必填项。", "orgUnit is required."))
            .Must(o => string.IsNullOrEmpty(o) || catalog.Current.OrgUnits.ContainsKey(o))
            .WithMessage(x => catalog.Current.UnknownOrgUnit(x.OrgUnit));
        RuleFor(x => x.Campaign)
            .Must(c => c is null || catalog.Current.Campaigns.ContainsKey(c))
            .WithMessage(x => catalog.Current.UnknownCampaign(x.Campaign));
        RuleFor(x => x.Note).MaximumLength(2000).WithMessage(_ => NoteMessage)
            .Must(n => n is null || n.All(c => !char.IsControl(c) || c is '\n' or '\r' or '\t'))
            .WithMessage(_ => NoteMessage);
        RuleFor(x => x.Dimensions).Custom((dims, ctx) =>
        {
            if (dims is null || dims.Count == 0)
                return;
            // One error for a flood of keys, not one per key.
            if (dims.Count > CatalogRules.MaxDimensions)
            {
                ctx.AddFailure("dimensions", Text.Say($"一个事件至多给出 {CatalogRules.MaxDimensions} 个维度，此事件给出了 {dims.Count} 个。",
                    $"An event gives at most {CatalogRules.MaxDimensions} dimensions; this one gives {dims.Count}."));
                return;
            }
            var metricCode = ctx.InstanceToValidate.Metric;
            if (metricCode is null || !catalog.Current.Metrics.TryGetValue(metricCode, out var metric))
                return; // the metric rule already failed
            foreach (var (key, value) in dims)
            {
                if (!Codes.IsValid(key))
                {
                    ctx.AddFailure("dimensions", Text.Say($"“{Codes.Quote(key)}”不是维度键：键须符合 {Codes.Pattern}。",
                        $"'{Codes.Quote(key)}' is not a dimension key: keys match {Codes.Pattern}."));
                    continue;
                }
                var declared = metric.Dimension(key);
                if (declared is null)
                    ctx.AddFailure($"dimensions.{key}", Text.Say($"指标“{metric.Code}”没有维度“{key}”。", $"Metric '{metric.Code}' declares no dimension '{key}'."));
                else if (declared.CodeOf(value) is null)
                    ctx.AddFailure($"dimensions.{key}", Text.Say(
                        $"“{Codes.Quote(value)}”不是 {key} 的值；请填写以下代码或名称之一：{declared.Describe()}。",
                        $"'{Codes.Quote(value)}' is not a declared value of {key}; use one of {declared.Describe()} (a code or its name)."));
            }
        });
    }
}

public sealed class RecordEventRequest : EventInput;

public sealed class RecordEventValidator : Validator<RecordEventRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public RecordEventValidator()
        : this(RequestServices.Catalog, RequestServices.Clock)
    {
    }

    private RecordEventValidator(CatalogCache catalog, TimeProvider clock) =>
        Include(new EventInputRules(catalog, clock));
}
