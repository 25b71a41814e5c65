using System.Collections.Frozen;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using System.Data.Common;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// A metric's dimension: its value codes and, optionally, the names people use for the dimension and its values
/// (venue 场所: community 社区). Every write that takes a value takes its code or its name; the ledger keeps the code.
/// </summary>
public sealed record DimensionDefinition(
    string Key, IReadOnlyList<string> Values,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, string>? ValueNames = null)
{
    /// <summary>The declared code that <paramref name="codeOrName"/> is, or names; null when it is neither.</summary>
    public string? CodeOf(string? codeOrName)
    {
        if (codeOrName is null)
            return null;
        foreach (var value in Values)
        {
            if (string.Equals(value, codeOrName, StringComparison.Ordinal))
                return value;
        }
        if (ValueNames is null)
            return null;
        foreach (var (code, name) in ValueNames)
        {
            if (string.Equals(name, codeOrName, StringComparison.Ordinal))
                return code;
        }
        return null;
    }

    /// <summary>The value's name, or the code itself when it has none.</summary>
    public string NameOf(string code) => ValueNames?.GetValueOrDefault(code) ?? code;

    /// <summary>The declared values as a person reads them in a message: "community (社区), ...".</summary>
    public string Describe() =>
        string.Join(", ", Values.Select(v => ValueNames?.GetValueOrDefault(v) is { } name ? $"{v} ({name})" : v));
}

public sealed record MetricDefinition(
    string Code, int Position, string Name, string? NameEn, string Unit, string? Description,
    IReadOnlyList<DimensionDefinition> Dimensions, string? ReportTemplate, bool Approximate, bool Active)
{
    public DimensionDefinition? Dimension(string key) => Dimensions.FirstOrDefault(d => d.Key == key);
}

/// <summary>An org unit; <see cref="ShortName"/> is what people call it (河东区), when it has one.</summary>
public sealed record OrgUnitDefinition(string Code, string Name, string? Parent, int Position, string? ShortName = null)
{
    /// <summary>The short name when there is one, else the name: how a title or a sentence names the unit.</summary>
    public string DisplayName => ShortName ?? Name;
}

public sealed record CampaignDefinition(string Code, string Name, DateOnly StartsOn, DateOnly EndsOn, int Position);

/// <summary>An immutable picture of the catalog, read by validators without touching the database.</summary>
public sealed class CatalogSnapshot
{
    private readonly FrozenDictionary<string, FrozenSet<string>> _descendants;

    private CatalogSnapshot(
        IReadOnlyList<MetricDefinition> metrics, IReadOnlyList<OrgUnitDefinition> orgUnits,
        IReadOnlyList<CampaignDefinition> campaigns, IEnumerable<(string Ancestor, string Descendant)> closure)
    {
        Metrics = metrics.ToFrozenDictionary(m => m.Code, StringComparer.Ordinal);
        OrgUnits = orgUnits.ToFrozenDictionary(o => o.Code, StringComparer.Ordinal);
        Campaigns = campaigns.ToFrozenDictionary(c => c.Code, StringComparer.Ordinal);
        _descendants = closure.GroupBy(c => c.Ancestor, StringComparer.Ordinal)
            .ToFrozenDictionary(g => g.Key, g => g.Select(c => c.Descendant).ToFrozenSet(StringComparer.Ordinal), StringComparer.Ordinal);
    }

    public FrozenDictionary<string, MetricDefinition> Metrics { get; }
    public FrozenDictionary<string, OrgUnitDefinition> OrgUnits { get; }
    public FrozenDictionary<string, CampaignDefinition> Campaigns { get; }

    /// <summary>True when <paramref name="unit"/> is <paramref name="ancestor"/> or lies below it.</summary>
    public bool IsWithin(string ancestor, string unit) =>
        _descendants.TryGetValue(ancestor, out var set) && set.Contains(unit);

    public IReadOnlySet<string> Subtree(string ancestor) =>
        _descendants.TryGetValue(ancestor, out var set) ? set : FrozenSet<string>.Empty;

    public static CatalogSnapshot Load(DbConnection connection, DbTransaction? transaction = null)
    {
        var metrics = connection.Query<MetricRow>(
            """
            SELECT code, position, name, name_en AS NameEn, unit, description, dimensions, report_template AS ReportTemplate,
                   approximate, active
            FROM metrics ORDER BY position
            """, transaction: transaction)
            .Select(r => r.ToDefinition()).ToList();
        var orgUnits = connection.Query<OrgUnitRow>(
            "SELECT code, name, short_name AS ShortName, parent, position FROM org_units ORDER BY position", transaction: transaction)
            .Select(r => new OrgUnitDefinition(r.Code, r.Name, r.Parent, r.Position, r.ShortName)).ToList();
        var campaigns = connection.Query<CampaignRow>(
            "SELECT code, name, starts_on AS StartsOn, ends_on AS EndsOn, position FROM campaigns ORDER BY position",
            transaction: transaction)
            .Select(r => new CampaignDefinition(r.Code, r.Name, r.StartsOn, r.EndsOn, r.Position))
            .ToList();
        var closure = connection.Query<(string, string)>(
            "SELECT ancestor, descendant FROM org_unit_closure", transaction: transaction).ToList();
        return new CatalogSnapshot(metrics, orgUnits, campaigns, closure);
    }

    public static IReadOnlyList<DimensionDefinition> ParseDimensions(string json) =>
        JsonSerializer.Deserialize<List<DimensionDefinition>>(json, TallyJson.Options) ?? [];

    /// <summary>A metrics row as stored (also a row of metric_history): the one mapping to a definition.</summary>
    public sealed class MetricRow
    {
        public string Code { get; init; } = "";
        public int Position { get; init; }
        public string Name { get; init; } = "";
        public string? NameEn { get; init; }
        public string Unit { get; init; } = "";
        public string? Description { get; init; }
        public string Dimensions { get; init; } = "[]";
        public string? ReportTemplate { get; init; }
        public bool Approximate { get; init; }
        public bool Active { get; init; }

        public MetricDefinition ToDefinition() =>
            new(Code, Position, Name, NameEn, Unit, Description, ParseDimensions(Dimensions), ReportTemplate, Approximate, Active);
    }

    private sealed class OrgUnitRow
    {
        public string Code { get; init; } = "";
        public string Name { get; init; } = "";
        public string? ShortName { get; init; }
        public string? Parent { get; init; }
        public int Position { get; init; }
    }

    private sealed class CampaignRow
    {
        public string Code { get; init; } = "";
        public string Name { get; init; } = "";
        public DateOnly StartsOn { get; init; }
        public DateOnly EndsOn { get; init; }
        public int Position { get; init; }
    }
}

/// <summary>Holds the current <see cref="CatalogSnapshot"/>; LedgerWriter swaps it after each catalog commit.</summary>
public sealed class CatalogCache
{
    private volatile CatalogSnapshot? _current;
    private readonly Func<CatalogCache>? _forward;

    public CatalogCache()
    {
    }

    private CatalogCache(Func<CatalogCache> forward) => _forward = forward;

    public CatalogSnapshot Current => _forward is not null
        ? _forward().Current
        : _current ?? throw new InvalidOperationException("The catalog is not loaded yet.");

    /// <summary>Whatever cache <paramref name="resolve"/> returns each time it is read (a request's app: Http/RequestServices).</summary>
    public static CatalogCache Forwarding(Func<CatalogCache> resolve) => new(resolve);

    public void Replace(CatalogSnapshot snapshot) => _current = snapshot;

    /// <summary>Always this snapshot: for checking a whole file against one catalog.</summary>
    public static CatalogCache Pinned(CatalogSnapshot snapshot)
    {
        var cache = new CatalogCache();
        cache.Replace(snapshot);
        return cache;
    }
}
