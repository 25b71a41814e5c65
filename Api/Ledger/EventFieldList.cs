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
        Func<EventRow, long>? number)
    {
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

    internal static EventField OfText(string name, string chineseHeader, Func<EventRow, string?> read, bool imported = false) =>
        new(name, chineseHeader, EventFieldKind.Text, imported, read, null);

    internal static EventField OfNumber(string name, string chineseHeader, Func<EventRow, long> read, bool imported = true) =>
        new(name, chineseHeader, EventFieldKind.Number, imported, null, read);

    internal static EventField OfDimensions(string name) =>
        new(name, name, EventFieldKind.Dimensions, imported: true, null, null);
}

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
        EventField.OfText("metric", "指标", r => r.Metric, imported: true),
        EventField.OfText("occurredOn", "日期", r => r.OccurredOn, imported: true),
        EventField.OfNumber("quantity", "数量", r => r.Quantity),
        EventField.OfText("orgUnit", "填报单位", r => r.OrgUnit, imported: true),
        EventField.OfText("campaign", "专项行动", r => r.Campaign, imported: true),
        EventField.OfDimensions("dimensions"),
        EventField.OfText("externalId", "外部编号", r => r.ExternalId, imported: true),
        EventField.OfText("note", "备注", r => r.Note, imported: true),
        EventField.OfText("source", "来源", r => r.Source),
        EventField.OfText("recordedAt", "录入时间", r => ApiInstant(r.RecordedAt)),
        EventField.OfText("status", "状态", r => r.VoidedAt is null ? Active : Voided),
        EventField.OfText("voidedAt", "作废时间", r => r.VoidedAt is null ? null : ApiInstant(r.VoidedAt)),
        EventField.OfText("voidReason", "作废原因", r => r.VoidReason),
        EventField.OfText("supersedes", "取代", r => r.Supersedes),
        EventField.OfText("supersededBy", "被取代于", r => r.SupersededBy),
        EventField.OfNumber("auditSeq", "审计序号", r => r.AuditSeq, imported: false),
    ];

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
