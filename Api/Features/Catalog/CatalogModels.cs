using Tally.Api.Problems;
using FastEndpoints;
using FluentValidation;
using Tally.Api.Http;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Catalog;

public sealed class DimensionModel
{
    public required string Key { get; init; }

    /// <summary>The dimension's name (场所); null when it has none.</summary>
    public required string? Name { get; init; }

    public required IReadOnlyList<string> Values { get; init; }

    /// <summary>Names of values by code (community: 社区); values without a name are absent.</summary>
    public required IReadOnlyDictionary<string, string> ValueNames { get; init; }

    public static DimensionModel From(DimensionDefinition d) => new()
    {
        Key = d.Key, Name = d.Name, Values = d.Values,
        ValueNames = d.ValueNames ?? new Dictionary<string, string>(StringComparer.Ordinal),
    };
}

public sealed class MetricResponse
{
    public required string Code { get; init; }
    public required string Name { get; init; }
    public required string? NameEn { get; init; }
    public required string Unit { get; init; }
    public required string? Description { get; init; }
    public required IReadOnlyList<DimensionModel> Dimensions { get; init; }
    public required string? ReportTemplate { get; init; }
    public required bool Approximate { get; init; }
    public required bool Active { get; init; }

    public static MetricResponse From(MetricDefinition m) => new()
    {
        Code = m.Code, Name = m.Name, NameEn = m.NameEn, Unit = m.Unit, Description = m.Description,
        Dimensions = m.Dimensions.Select(DimensionModel.From).ToList(),
        ReportTemplate = m.ReportTemplate, Approximate = m.Approximate, Active = m.Active,
    };
}

public sealed class OrgUnitResponse
{
    public required string Code { get; init; }
    public required string Name { get; init; }
    public required string? Parent { get; init; }

    public static OrgUnitResponse From(OrgUnitDefinition o) => new() { Code = o.Code, Name = o.Name, Parent = o.Parent };
}

public sealed class CampaignResponse
{
    public required string Code { get; init; }
    public required string Name { get; init; }
    public required DateOnly StartsOn { get; init; }
    public required DateOnly EndsOn { get; init; }

    public static CampaignResponse From(CampaignDefinition c) =>
        new() { Code = c.Code, Name = c.Name, StartsOn = c.StartsOn, EndsOn = c.EndsOn };
}

/// <summary>Query of the catalog lists: only paging.</summary>
public sealed class CatalogListRequest : IPagedRequest
{
    public int? Limit { get; set; }
    public string? Cursor { get; set; }
}

public sealed class CatalogListValidator : Validator<CatalogListRequest>
{
    public CatalogListValidator() => this.AddPagingRules();
}

/// <summary>Route of the catalog's single-item endpoints.</summary>
public sealed class CatalogCodeRequest
{
    public string Code { get; set; } = "";
}

public static class CatalogRules
{
    public const int MaxDimensions = 10;
    public const int MaxDimensionValues = 200;

    public static IRuleBuilderOptions<T, string?> ValidCode<T>(this IRuleBuilder<T, string?> rule) =>
        rule.NotEmpty().WithMessage(_ => Text.Say("{PropertyName} 为必填项。", "{PropertyName} is required."))
            .Matches(Codes.Pattern).WithMessage(_ => Text.Say("{PropertyName} 须符合 " + Codes.Pattern + "。", "must match " + Codes.Pattern + "."));

    public static IRuleBuilderOptions<T, string?> ValidName<T>(this IRuleBuilder<T, string?> rule) =>
        rule.NotEmpty().WithMessage(_ => Text.Say("{PropertyName} 为必填项。", "{PropertyName} is required."))
            .MaximumLength(200).WithMessage(_ => Text.Say("{PropertyName} 至多 200 个字符。", "{PropertyName} must be at most 200 characters.")).SingleLine();

    /// <summary>No control characters at all: names and labels end up in reports, CSV cells and terminals.</summary>
    public static IRuleBuilderOptions<T, string?> SingleLine<T>(this IRuleBuilderOptions<T, string?> rule) =>
        rule.Must(t => t is null || !t.Any(char.IsControl)).WithMessage(_ => Text.Say("{PropertyName} 不得含控制字符。", "must not contain control characters."));

    /// <summary>Free text: line breaks and tabs are fine, other control characters are not.</summary>
    public static IRuleBuilderOptions<T, string?> PlainText<T>(this IRuleBuilderOptions<T, string?> rule) =>
        rule.Must(t => t is null || t.All(c => !char.IsControl(c) || c is '\n' or '\r' or '\t'))
            .WithMessage(_ => Text.Say("{PropertyName} 除换行和制表符外不得含控制字符。", "must not contain control characters other than line breaks and tabs."));
}
