using FastEndpoints;
using FluentValidation;
using Tally.Api.Catalog;
using Tally.Api.Features.Catalog;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Events;

/// <summary>The fields of one event as a client sends it: POST /events, each batch item, each upsert.</summary>
public class EventInput
{
    public string? Metric { get; set; }
    public DateOnly? OccurredOn { get; set; }
    public long? Quantity { get; set; }
    public string? OrgUnit { get; set; }
    public string? Campaign { get; set; }
    public Dictionary<string, string?>? Dimensions { get; set; }
    public string? ExternalId { get; set; }
    public string? Note { get; set; }

    /// <summary>The validated input as the ledger takes it; call only after validation passed.</summary>
    public NewEvent ToNewEvent(string? externalIdOverride = null) => new(
        Metric!, OccurredOn!.Value, Quantity!.Value, OrgUnit!, Campaign,
        new SortedDictionary<string, string>(
            (Dimensions ?? []).ToDictionary(p => p.Key, p => p.Value!, StringComparer.Ordinal), StringComparer.Ordinal),
        externalIdOverride ?? ExternalId, Note);
}

/// <summary>Every rule CONTRACT.md sets on an event, checked against the in-memory catalog.</summary>
public sealed class EventInputRules : AbstractValidator<EventInput>
{
    public const long MaxQuantity = 1_000_000_000;
    public static readonly DateOnly FirstDay = new(2000, 1, 1);

    public EventInputRules(CatalogCache catalog, TimeProvider clock)
    {
        RuleFor(x => x.Metric).NotEmpty()
            .Must(m => string.IsNullOrEmpty(m) || (catalog.Current.Metrics.TryGetValue(m, out var metric) && metric.Active))
            .WithMessage(x => catalog.Current.Metrics.ContainsKey(x.Metric!)
                ? $"Metric '{x.Metric}' is inactive."
                : $"Unknown metric '{Codes.Quote(x.Metric)}'.");
        RuleFor(x => x.OccurredOn).NotNull()
            .GreaterThanOrEqualTo(FirstDay).WithMessage("occurredOn must not be before 2000-01-01.")
            .Must(d => d is null || d <= DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime))
            .WithMessage("occurredOn must not be after today (UTC).");
        RuleFor(x => x.Quantity).NotNull().InclusiveBetween(1, MaxQuantity)
            .WithMessage($"quantity must be an integer from 1 to {MaxQuantity:N0}.");
        RuleFor(x => x.OrgUnit).NotEmpty()
            .Must(o => string.IsNullOrEmpty(o) || catalog.Current.OrgUnits.ContainsKey(o))
            .WithMessage(x => $"Unknown org unit '{Codes.Quote(x.OrgUnit)}'.");
        RuleFor(x => x.Campaign)
            .Must(c => c is null || catalog.Current.Campaigns.ContainsKey(c))
            .WithMessage(x => $"Unknown campaign '{Codes.Quote(x.Campaign)}'.");
        RuleFor(x => x.ExternalId).Length(1, 200).Must(NoControlCharacters)
            .WithMessage("externalId must be 1 to 200 characters without control characters.");
        RuleFor(x => x.Note).MaximumLength(2000)
            .Must(n => n is null || n.All(c => !char.IsControl(c) || c is '\n' or '\r' or '\t'))
            .WithMessage("note must be at most 2000 characters, without control characters other than line breaks and tabs.");
        RuleFor(x => x.Dimensions).Custom((dims, ctx) =>
        {
            if (dims is null || dims.Count == 0)
                return;
            // One error for a flood of keys, not one per key.
            if (dims.Count > CatalogRules.MaxDimensions)
            {
                ctx.AddFailure("dimensions", $"An event gives at most {CatalogRules.MaxDimensions} dimensions; this one gives {dims.Count}.");
                return;
            }
            var metricCode = ctx.InstanceToValidate.Metric;
            if (metricCode is null || !catalog.Current.Metrics.TryGetValue(metricCode, out var metric))
                return; // the metric rule already failed
            foreach (var (key, value) in dims)
            {
                if (!Codes.IsValid(key))
                {
                    ctx.AddFailure("dimensions", $"'{Codes.Quote(key)}' is not a dimension key: keys match {Codes.Pattern}.");
                    continue;
                }
                var declared = metric.Dimension(key);
                if (declared is null)
                    ctx.AddFailure($"dimensions.{key}", $"Metric '{metric.Code}' declares no dimension '{key}'.");
                else if (value is null || !declared.Values.Contains(value))
                    ctx.AddFailure($"dimensions.{key}",
                        $"'{Codes.Quote(value)}' is not a declared value of {key}; use one of {string.Join(", ", declared.Values)}.");
            }
        });
    }

    private static bool NoControlCharacters(string? text) => text is null || !text.Any(char.IsControl);
}

public sealed class RecordEventRequest : EventInput;

public sealed class RecordEventValidator : Validator<RecordEventRequest>
{
    public RecordEventValidator(CatalogCache catalog, TimeProvider clock) =>
        Include(new EventInputRules(catalog, clock));
}
