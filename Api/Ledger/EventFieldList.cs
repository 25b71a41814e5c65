using System.Text.Json;
using Tally.Api.Data;

namespace Tally.Api.Ledger;

public enum EventFieldKind { Text, Number, Dimensions }

/// <summary>
/// One field of an event as every rendering shows it: its JSON name, its Chinese header, how its value is read from a
/// stored row, and whether an import reads it (the others are read and ignored, so an export re-imports as it is).
/// </summary>
public sealed class EventField
{
    private readonly Func<EventRow, string?>? _text;
    private readonly Func<EventRow, long>? _number;

    private EventField(string name, string chineseHeader, EventFieldKind kind, bool imported, Func<EventRow, string?>? text,
        Func<EventRow, long>? number, ChineseColumn? beside = null, Func<EventRow, string?>? chineseText = null)
    {
        Beside = beside;
        ChineseText = chineseText;
        Name = name;
        JsonName = JsonEncodedText.Encode(name);
        ChineseHeader = chineseHeader;
        Kind = kind;
        Imported = imported;
        _text = text;
        _number = number;
    }

    public string Name { get; }

    /// <summary>The name encoded once, not on every row.</summary>
    public JsonEncodedText JsonName { get; }

    /// <summary>The header of headers=zh exports and of Chinese import files (dimensions: dim.&lt;key&gt; in both).</summary>
    public string ChineseHeader { get; }

    public EventFieldKind Kind { get; }

    /// <summary>The import takes this field from a file; otherwise the column is one of an export's extras.</summary>
    public bool Imported { get; }

    /// <summary>A text field's value as the API writes it (instants without trailing zeros, status from the void).</summary>
    public string? Text(EventRow row) => _text!(row);

    public long Number(EventRow row) => _number!(row);

    /// <summary>In headers=zh exports, the column of names written right after this field's codes (指标名称 after 指标).</summary>
    public ChineseColumn? Beside { get; }

    /// <summary>In headers=zh exports, the cell in Chinese instead of the code (状态: 有效, 已作废); null: as in JSON.</summary>
    public Func<EventRow, string?>? ChineseText { get; }

    internal static EventField OfText(string name, string chineseHeader, Func<EventRow, string?> read, bool imported = false,
        ChineseColumn? beside = null, Func<EventRow, string?>? chineseText = null) =>
        new(name, chineseHeader, EventFieldKind.Text, imported, read, null, beside, chineseText);

    internal static EventField OfNumber(string name, string chineseHeader, Func<EventRow, long> read, bool imported = true,
        ChineseColumn? beside = null) =>
        new(name, chineseHeader, EventFieldKind.Number, imported, null, read, beside);

    internal static EventField OfDimensions(string name) =>
        new(name, name, EventFieldKind.Dimensions, imported: true, null, null);
}

/// <summary>A column only headers=zh exports have: names from the catalog beside the codes an import reads.</summary>
public sealed record ChineseColumn(string Header, Func<EventRow, CatalogSnapshot, string?> Read);

/// <summary>One column of a CSV or XLSX export: its header and its cell (a text, or a number) for a row.</summary>
public sealed record ExportColumn(
    string Header, Func<EventRow, IReadOnlyDictionary<string, string>, string?>? Text, Func<EventRow, long>? Number = null);

/// <summary>
/// The one ordered list of an event's fields (CONTRACT.md, Events): the response, the audit entry, every export and
/// the import's header vocabulary are all written from it.
/// </summary>
public static class EventFieldList
{
    public const string Active = "active";
    public const string Voided = "voided";

    /// <summary>The prefix of a dimension's column in CSV and XLSX (and its header in an import file).</summary>
    public const string DimensionPrefix = "dim.";

    public static readonly IReadOnlyList<EventField> All =
    [
        EventField.OfText("id", "编号", r => r.Id),
        EventField.OfText("metric", "指标", r => r.Metric, imported: true,
            beside: new ChineseColumn("指标名称", (r, c) => c.Metrics.GetValueOrDefault(r.Metric)?.Name)),
        EventField.OfText("occurredOn", "日期", r => r.OccurredOn, imported: true),
        EventField.OfNumber("quantity", "数量", r => r.Quantity,
            beside: new ChineseColumn("单位", (r, c) => c.Metrics.GetValueOrDefault(r.Metric)?.Unit)),
        EventField.OfText("orgUnit", "填报单位", r => r.OrgUnit, imported: true,
            beside: new ChineseColumn("填报单位名称", (r, c) => c.OrgUnits.GetValueOrDefault(r.OrgUnit)?.Name)),
        EventField.OfText("campaign", "专项行动", r => r.Campaign, imported: true,
            beside: new ChineseColumn("专项行动名称", (r, c) => r.Campaign is null ? null : c.Campaigns.GetValueOrDefault(r.Campaign)?.Name)),
        EventField.OfDimensions("dimensions"),
        EventField.OfText("externalId", "外部编号", r => r.ExternalId, imported: true),
        EventField.OfText("note", "备注", r => r.Note, imported: true),
        EventField.OfText("source", "来源", r => r.Source),
        EventField.OfText("recordedAt", "录入时间", r => ApiInstant(r.RecordedAt)),
        EventField.OfText("status", "状态", r => r.VoidedAt is null ? Active : Voided,
            chineseText: r => r.VoidedAt is null ? "有效" : "已作废"),
        EventField.OfText("voidedAt", "作废时间", r => r.VoidedAt is null ? null : ApiInstant(r.VoidedAt)),
        EventField.OfText("voidReason", "作废原因", r => r.VoidReason),
        EventField.OfText("supersedes", "取代", r => r.Supersedes),
        EventField.OfText("supersededBy", "被取代于", r => r.SupersededBy),
        EventField.OfNumber("auditSeq", "审计序号", r => r.AuditSeq, imported: false),
    ];

    /// <summary>Every dimension key the catalog declares, in catalog order: the dim.&lt;key&gt; columns of an export.</summary>
    public static IReadOnlyList<string> DimensionKeys(CatalogSnapshot catalog) =>
        catalog.Metrics.Values.OrderBy(m => m.Position).SelectMany(m => m.Dimensions).Select(d => d.Key)
            .Distinct(StringComparer.Ordinal).ToList();

    /// <summary>
    /// The columns of a CSV or XLSX export, in order. With <paramref name="names"/> (headers=zh): the Chinese headers,
    /// and beside each code an import reads the names a person reads: 指标, 指标名称, 日期, 数量, 单位, 填报单位,
    /// 填报单位名称, 专项行动, 专项行动名称, then per dimension dim.&lt;key&gt; (the code) and its name column (场所), then
    /// 外部编号, 备注 and the rest, 状态 as 有效 or 已作废. Without: the field names, codes only.
    /// </summary>
    public static IReadOnlyList<ExportColumn> ExportColumns(IReadOnlyList<string> dimensionKeys, CatalogSnapshot? names)
    {
        var columns = new List<ExportColumn>();
        foreach (var field in All)
        {
            var header = names is null ? field.Name : field.ChineseHeader;
            switch (field.Kind)
            {
                case EventFieldKind.Text:
                    var chinese = names is null ? null : field.ChineseText;
                    columns.Add(new ExportColumn(header, chinese is null ? (r, _) => field.Text(r) : (r, _) => chinese(r)));
                    break;
                case EventFieldKind.Number:
                    columns.Add(new ExportColumn(header, null, field.Number));
                    break;
                default:
                    var nameHeaders = names is null ? null : DimensionNameHeaders(dimensionKeys, names);
                    for (var i = 0; i < dimensionKeys.Count; i++)
                    {
                        var key = dimensionKeys[i];
                        columns.Add(new ExportColumn(DimensionPrefix + key, (_, d) => d.GetValueOrDefault(key)));
                        if (names is not null)
                            columns.Add(new ExportColumn(nameHeaders![i], (r, d) => d.TryGetValue(key, out var code)
                                ? names.Metrics.GetValueOrDefault(r.Metric)?.Dimension(key)?.NameOf(code) ?? code
                                : null));
                    }
                    break;
            }
            if (names is not null && field.Beside is { } beside)
                columns.Add(new ExportColumn(beside.Header, (r, _) => beside.Read(r, names)));
        }
        return columns;
    }

    /// <summary>
    /// The header of each dimension's name column in headers=zh exports: the dimension's name (the first metric in
    /// catalog order that names it), else &lt;key&gt;名称; a header another column already has gets （&lt;key&gt;） after it.
    /// </summary>
    public static IReadOnlyList<string> DimensionNameHeaders(IReadOnlyList<string> dimensionKeys, CatalogSnapshot catalog)
    {
        var taken = All.Select(f => f.ChineseHeader).Concat(All.Select(f => f.Name)).Concat(All.Select(f => f.Beside?.Header).OfType<string>())
            .Concat(dimensionKeys.Select(k => DimensionPrefix + k)).Append(RowNumberHeader)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var metrics = catalog.Metrics.Values.OrderBy(m => m.Position).ToList();
        var headers = new List<string>(dimensionKeys.Count);
        foreach (var key in dimensionKeys)
        {
            var name = metrics.Select(m => m.Dimension(key)?.Name).FirstOrDefault(n => n is not null) ?? key + "名称";
            var header = taken.Add(name) ? name : $"{name}（{key}）";
            taken.Add(header);
            headers.Add(header);
        }
        return headers;
    }

    /// <summary>
    /// The headers an import reads and ignores besides those of the fields it does not import: 序号, and the name
    /// columns of a headers=zh export (for the dimensions of <paramref name="catalog"/>).
    /// </summary>
    public static IReadOnlySet<string> ChineseNameHeaders(CatalogSnapshot catalog) =>
        All.Select(f => f.Beside?.Header).OfType<string>()
            .Concat(DimensionNameHeaders(DimensionKeys(catalog), catalog)).Append(RowNumberHeader)
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>A spreadsheet's own row-number column, which an import reads and ignores.</summary>
    public const string RowNumberHeader = "序号";

    /// <summary>The fields with their keys in ordinal order, as canonical JSON (the audit entry) writes them.</summary>
    public static readonly IReadOnlyList<EventField> OrdinalOrder = All.OrderBy(f => f.Name, StringComparer.Ordinal).ToArray();

    /// <summary>
    /// An event as the API shows it (GET /events/{id}, listings, NDJSON exports), in the list's order. The stored
    /// dimensions object is already JSON (codes only) and goes out as it is.
    /// </summary>
    public static void WriteJson(Utf8JsonWriter json, EventRow row)
    {
        json.WriteStartObject();
        foreach (var field in All)
        {
            switch (field.Kind)
            {
                case EventFieldKind.Text:
                    json.WriteString(field.JsonName, field.Text(row));
                    break;
                case EventFieldKind.Number:
                    json.WriteNumber(field.JsonName, field.Number(row));
                    break;
                default:
                    json.WritePropertyName(field.JsonName);
                    json.WriteRawValue(row.Dimensions, skipInputValidation: true);
                    break;
            }
        }
        json.WriteEndObject();
    }

    /// <summary>The stored dimensions object as a dictionary; <paramref name="none"/> when the event has none.</summary>
    public static Dictionary<string, string> Dimensions(EventRow row, Dictionary<string, string> none) =>
        row.Dimensions == "{}" ? none : JsonSerializer.Deserialize<Dictionary<string, string>>(row.Dimensions) ?? none;

    /// <summary>A stored instant (fixed width, 7 decimals) as the API writes it: trailing zeros of the fraction dropped.</summary>
    public static string ApiInstant(string stored)
    {
        // yyyy-MM-ddTHH:mm:ss.fffffffZ
        if (stored.Length != 28 || stored[19] != '.' || stored[27] != 'Z')
            return Instant.ToJson(Instant.FromStorage(stored));
        var end = 27;
        while (end > 20 && stored[end - 1] == '0')
            end--;
        return end == 20 ? string.Concat(stored.AsSpan(0, 19), "Z") : string.Concat(stored.AsSpan(0, end), "Z");
    }
}
