using System.Text.Json;
using System.Text.Json.Nodes;
using FluentValidation;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;

namespace Tally.Api.Features.Catalog;

public sealed class DimensionInput
{
    public string? Key { get; set; }

    /// <summary>The dimension's name as people say it (场所); optional.</summary>
    public string? Name { get; set; }

    public List<string>? Values { get; set; }

    /// <summary>Names of declared values by code (community: 社区); optional, and a value may have none.</summary>
    public Dictionary<string, string?>? ValueNames { get; set; }
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
        (Dimensions ?? []).Select(d =>
        {
            var values = d.Values ?? [];
            // In the order of the values, so the stored JSON does not depend on the order the client wrote them in.
            var names = d.ValueNames is { Count: > 0 }
                ? values.Where(d.ValueNames.ContainsKey).ToDictionary(v => v, v => d.ValueNames[v]!, StringComparer.Ordinal)
                : null;
            return new DimensionDefinition(d.Key!, values, d.Name, names);
        }).ToList();

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
    /// <summary>The longest name of a dimension or of one of its values.</summary>
    public const int MaxDisplayName = 100;

    private static bool ValidDisplayName(string name) =>
        name.Length is >= 1 and <= MaxDisplayName && !name.Any(char.IsControl) && name.Trim().Length == name.Length;

    /// <summary>
    /// Value names name declared values, each non-empty and distinct, and none is another value's code: a write may
    /// give a value by its code or by its name, so each must say one value only.
    /// </summary>
    private static void CheckValueNames<T>(DimensionInput dimension, Dictionary<string, string?>? names, ValidationContext<T> ctx)
    {
        if (names is null || names.Count == 0)
            return;
        if (names.Count > CatalogRules.MaxDimensionValues)
        {
            ctx.AddFailure(ctx.PropertyPath, Text.Say($"valueNames 至多 {CatalogRules.MaxDimensionValues} 项。",
                $"valueNames names at most {CatalogRules.MaxDimensionValues} values."));
            return;
        }
        var values = dimension.Values ?? [];
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (code, name) in names)
        {
            var path = $"{ctx.PropertyPath}.{code}";
            if (!values.Contains(code, StringComparer.Ordinal))
                ctx.AddFailure(path, Text.Say($"'{Codes.Quote(code)}' 不是该维度声明的值；valueNames 只能为已声明的值命名。",
                    $"'{Codes.Quote(code)}' is not a declared value; valueNames may name only the dimension's values."));
            else if (name is null || !ValidDisplayName(name))
                ctx.AddFailure(path, Text.Say($"值名称须为 1 至 {MaxDisplayName} 个字符，不含控制字符，首尾无空格。",
                    $"A value's name must be 1 to {MaxDisplayName} characters, without control characters or surrounding spaces."));
            else if (seen.TryGetValue(name, out var other))
                ctx.AddFailure(path, Text.Say($"名称“{name}”已用于值 {other}：同一维度内名称不能重复。",
                    $"The name '{name}' is already the name of {other}: names within a dimension must be unique."));
            else if (values.Contains(name, StringComparer.Ordinal) && name != code)
                ctx.AddFailure(path, Text.Say($"名称“{name}”是另一个值的代码：按名称填报时会有歧义。",
                    $"The name '{name}' is the code of another value: a value given by name would be ambiguous."));
            else
                seen[name] = code;
        }
    }

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
            d.RuleFor(x => x.Name).Must(n => n is null || ValidDisplayName(n))
                .WithMessage(_ => Text.Say($"维度名称须为 1 至 {MaxDisplayName} 个字符，不含控制字符。",
                    $"A dimension's name must be 1 to {MaxDisplayName} characters without control characters."));
            d.RuleFor(x => x.ValueNames).Custom((names, ctx) => CheckValueNames(ctx.InstanceToValidate, names, ctx))
                .When(x => x.Values is null || x.Values.Count <= CatalogRules.MaxDimensionValues);
        }).When(x => x.Dimensions is null || x.Dimensions.Count <= CatalogRules.MaxDimensions);
    }
}
