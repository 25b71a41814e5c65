using Dapper;
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

    /// <summary>What people call the unit (河东区); null when it has none.</summary>
    public required string? ShortName { get; init; }

    public required string? Parent { get; init; }

    public static OrgUnitResponse From(OrgUnitDefinition o) =>
        new() { Code = o.Code, Name = o.Name, ShortName = o.ShortName, Parent = o.Parent };
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

    /// <summary>An optional short name (河东区): 1 to 50 characters, one line, no spaces around it.</summary>
    public static IRuleBuilderOptions<T, string?> ValidShortName<T>(this IRuleBuilder<T, string?> rule) =>
        rule.Must(t => t is null || t.Length is >= 1 and <= 50)
            .WithMessage(_ => Text.Say("shortName（简称）须为 1 至 50 个字符。", "shortName must be 1 to 50 characters."))
            .Must(t => t is null || t.Trim() == t)
            .WithMessage(_ => Text.Say("shortName（简称）首尾不得有空白。", "shortName must not start or end with spaces."))
            .SingleLine();

    /// <summary>
    /// Refuses (409) a short name that another org unit's code, name or short name already is: imports take a unit by
    /// any of the three, so each short name must say one unit.
    /// </summary>
    public static void EnsureShortNameFree(LedgerContext context, string code, string? shortName)
    {
        if (shortName is null)
            return;
        var other = context.Connection.ExecuteScalar<string?>(
            """
            SELECT code FROM org_units
            WHERE code <> @code AND (code = @shortName OR name = @shortName OR short_name = @shortName)
            ORDER BY position LIMIT 1
            """, new { code, shortName }, context.Transaction);
        if (other is not null)
            throw ProblemException.Conflict(Text.Say(
                $"简称“{shortName}”已是填报单位“{other}”的代码、名称或简称：请换一个简称。",
                $"The short name '{shortName}' is already the code, name or short name of org unit '{other}': choose another."));
    }

    /// <summary>No control characters at all: names and labels end up in reports, CSV cells and terminals.</summary>
    public static IRuleBuilderOptions<T, string?> SingleLine<T>(this IRuleBuilderOptions<T, string?> rule) =>
        rule.Must(t => t is null || !t.Any(char.IsControl)).WithMessage(_ => Text.Say("{PropertyName} 不得含控制字符。", "must not contain control characters."));

    /// <summary>Free text: line breaks and tabs are fine, other control characters are not.</summary>
    public static IRuleBuilderOptions<T, string?> PlainText<T>(this IRuleBuilderOptions<T, string?> rule) =>
        rule.Must(t => t is null || t.All(c => !char.IsControl(c) || c is '\n' or '\r' or '\t'))
            .WithMessage(_ => Text.Say("{PropertyName} 除换行和制表符外不得含控制字符。", "must not contain control characters other than line breaks and tabs."));
}
