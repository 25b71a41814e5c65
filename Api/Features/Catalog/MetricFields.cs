using Tally.Api.Problems;
using System.Text.Json;
using System.Text.Json.Nodes;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Catalog;

public sealed class DimensionInput
{
    public string? Key { get; set; }
    public List<string>? Values { get; set; }
}

/// <summary>The body fields a metric is created and replaced with.</summary>
public abstract class MetricFields
{
    public string? Name { get; set; }
    public string? NameEn { get; set; }
    public string? Unit { get; set; }
    public string? Description { get; set; }
    public List<DimensionInput>? Dimensions { get; set; }
    public string? ReportTemplate { get; set; }
    public bool? Approximate { get; set; }
    public bool? Active { get; set; }

    public IReadOnlyList<DimensionDefinition> DimensionDefinitions() =>
        (Dimensions ?? []).Select(d => new DimensionDefinition(d.Key!, d.Values ?? [])).ToList();

    public string DimensionsJson() => JsonSerializer.Serialize(DimensionDefinitions(), TallyJson.Options);

    public JsonObject ToAudit(string code) => new()
    {
        ["code"] = code, ["name"] = Name, ["nameEn"] = NameEn, ["unit"] = Unit, ["description"] = Description,
        ["dimensions"] = JsonNode.Parse(DimensionsJson()), ["reportTemplate"] = ReportTemplate,
        ["approximate"] = Approximate ?? false, ["active"] = Active ?? true,
    };
}

public static class MetricFieldRules
{
    public static void AddMetricFieldRules<T>(this AbstractValidator<T> v) where T : MetricFields
    {
        v.RuleFor(x => x.Name).ValidName();
        v.RuleFor(x => x.NameEn).MaximumLength(200).SingleLine();
        v.RuleFor(x => x.Unit).NotEmpty().MaximumLength(20).SingleLine();
        v.RuleFor(x => x.Description).MaximumLength(2000).PlainText();
        v.RuleFor(x => x.ReportTemplate).MaximumLength(500).SingleLine()
            .Must(t => t is null || t.Contains("{value}", StringComparison.Ordinal))
            .WithMessage(_ => Text.Say("reportTemplate（报告句式）须含 {value}，标明数字的位置。", "reportTemplate must contain {value} where the figure goes."));
        v.RuleFor(x => x.Dimensions)
            .Must(d => d is null || d.Count <= CatalogRules.MaxDimensions)
            .WithMessage(_ => Text.Say($"一个指标至多声明 {CatalogRules.MaxDimensions} 个维度。", $"A metric declares at most {CatalogRules.MaxDimensions} dimensions."))
            .Must(d => d is null || d.Where(x => x?.Key is not null).Select(x => x.Key).Distinct(StringComparer.Ordinal)
                .Count() == d.Count(x => x?.Key is not null))
            .WithMessage(_ => Text.Say("维度键不得重复。", "Dimension keys must be unique."));
        // Items are checked one by one only when the lists are of a sane size: a flood gets one error, not one per item.
        v.RuleForEach(x => x.Dimensions).ChildRules(d =>
        {
            d.RuleFor(x => x).NotNull();
            d.RuleFor(x => x.Key).ValidCode();
            d.RuleFor(x => x.Values).NotEmpty().WithMessage(_ => Text.Say("一个维度至少声明一个取值。", "A dimension declares at least one value."))
                .Must(vs => vs is null || vs.Count <= CatalogRules.MaxDimensionValues)
                .WithMessage(_ => Text.Say($"一个维度至多声明 {CatalogRules.MaxDimensionValues} 个取值。", $"A dimension declares at most {CatalogRules.MaxDimensionValues} values."))
                .Must(vs => vs is null || vs.Distinct(StringComparer.Ordinal).Count() == vs.Count)
                .WithMessage(_ => Text.Say("维度取值不得重复。", "Dimension values must be unique."));
            d.RuleForEach(x => x.Values).ValidCode()
                .When(x => x.Values is null || x.Values.Count <= CatalogRules.MaxDimensionValues);
        }).When(x => x.Dimensions is null || x.Dimensions.Count <= CatalogRules.MaxDimensions);
    }
}
