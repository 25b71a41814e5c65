using Tally.Api.Problems;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Totals;

public enum TotalsGroupKind { Quarter, Month, OrgUnit, Campaign, Dimension }

/// <summary>One entry of <c>groupBy</c>: the row key it adds (<c>quarter</c>, ..., <c>dim.venue</c>) and how it is computed.</summary>
public sealed record TotalsGroup(TotalsGroupKind Kind, string Name, string? DimensionKey = null)
{
    public const string DimensionPrefix = "dim.";
    public const int MaxGroups = 8;

    /// <summary>
    /// Parses a comma list. A <c>dim.&lt;key&gt;</c> must be declared by at least one of <paramref name="metrics"/>;
    /// on failure returns null and says why in <paramref name="error"/>.
    /// </summary>
    public static List<TotalsGroup>? Parse(string? text, IEnumerable<MetricDefinition> metrics, out string? error)
    {
        error = null;
        var groups = new List<TotalsGroup>();
        if (string.IsNullOrEmpty(text))
            return groups;
        var declared = metrics.SelectMany(m => m.Dimensions).Select(d => d.Key).ToHashSet(StringComparer.Ordinal);
        foreach (var raw in text.Split(','))
        {
            var name = raw.Trim();
            TotalsGroup? group = name switch
            {
                "quarter" => new(TotalsGroupKind.Quarter, name),
                "month" => new(TotalsGroupKind.Month, name),
                "orgUnit" => new(TotalsGroupKind.OrgUnit, name),
                "campaign" => new(TotalsGroupKind.Campaign, name),
                _ when name.StartsWith(DimensionPrefix, StringComparison.Ordinal) && Codes.IsValid(name[DimensionPrefix.Length..])
                    => new(TotalsGroupKind.Dimension, name, name[DimensionPrefix.Length..]),
                _ => null,
            };
            if (group is null)
            {
                error = Text.Say($"未知分组“{Shorten(name)}”；请使用 quarter、month、orgUnit、campaign 或 dim.<键>，以逗号分隔。", $"Unknown group '{Shorten(name)}'; use quarter, month, orgUnit, campaign or dim.<key>, separated by commas.");
                return null;
            }
            if (group.DimensionKey is { } key && !declared.Contains(key))
            {
                error = Text.Say($"所请求的指标都没有维度“{key}”。", $"No requested metric declares the dimension '{key}'.");
                return null;
            }
            if (groups.Any(g => g.Name == group.Name))
            {
                error = Text.Say($"“{name}”重复给出。", $"'{name}' is given more than once.");
                return null;
            }
            groups.Add(group);
        }
        if (groups.Count > MaxGroups)
        {
            error = Text.Say($"至多 {MaxGroups} 个分组。", $"At most {MaxGroups} groups.");
            return null;
        }
        return groups;
    }

    private static string Shorten(string text) => text.Length <= 70 ? text : text[..70] + "…";
}
