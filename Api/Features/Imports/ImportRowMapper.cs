using System.Globalization;
using Tally.Api.Features.Events;
using Tally.Api.Ledger;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Imports;

/// <summary>A problem with one row: its number as a spreadsheet shows it, the column (as the file names it), why.</summary>
public sealed record ImportError(int Row, string Field, string Message);

/// <summary>
/// A row turned into an event, or the reasons it cannot be one. An event without an externalId still needs the one
/// its identity gives it (<see cref="ImportRowIdentity"/>): <paramref name="Identity"/> is that identity's hash.
/// </summary>
public sealed record MappedRow(int Number, NewEvent? Event, IReadOnlyList<ImportError> Errors, ulong? Identity = null);

/// <summary>
/// Turns file rows into events: columns by header (event field names, dim.&lt;key&gt;, or the Chinese headers), metrics,
/// org units and campaigns by code or by name, then every rule of POST /events and the key's org scope.
/// </summary>
public sealed class ImportRowMapper(CatalogSnapshot catalog, TimeProvider clock, ApiKeyRecord caller, string? name)
{
    /// <summary>The header vocabulary: each imported field by its JSON name or its Chinese header.</summary>
    private static readonly Dictionary<string, string> FieldsByHeader = EventFieldList.All
        .Where(f => f.Imported && f.Kind != EventFieldKind.Dimensions)
        .SelectMany(f => (string[])[f.Name, f.ChineseHeader], (f, header) => (Header: header, Field: f.Name))
        .ToDictionary(p => p.Header, p => p.Field, StringComparer.OrdinalIgnoreCase);

    /// <summary>Columns read and ignored: the fields an export adds (id, source, status, ...).</summary>
    private static readonly HashSet<string> NotImported = EventFieldList.All.Where(f => !f.Imported)
        .SelectMany(f => (string[])[f.Name, f.ChineseHeader]).ToHashSet(StringComparer.OrdinalIgnoreCase);

    private static readonly string KnownHeaders = string.Join(", ",
        EventFieldList.All.Where(f => f.Imported && f.Kind != EventFieldKind.Dimensions).Select(f => f.ChineseHeader));

    private static string ChineseHeaderOf(string field) =>
        EventFieldList.All.FirstOrDefault(f => f.Name == field)?.ChineseHeader ?? field;

    private static readonly string[] DateFormats = ["yyyy-MM-dd", "yyyy-M-d", "yyyy/M/d", "yyyy.M.d", "yyyy年M月d日"];

    private readonly EventInputRules _rules = new(CatalogCache.Pinned(catalog), clock);

    /// <summary>Also read and ignored: a row number (序号) and the name columns of a headers=zh export.</summary>
    private readonly IReadOnlySet<string> _names = EventFieldList.ChineseNameHeaders(catalog);

    private bool Ignored(string header) => NotImported.Contains(header) || _names.Contains(header);
    private readonly Dictionary<string, string> _metricsByName = ByName(catalog.Metrics.Values.Select(m => (m.Code, m.Name)));
    private readonly Dictionary<string, string> _orgUnitsByName = ByName(catalog.OrgUnits.Values
        .SelectMany(o => o.ShortName is null || o.ShortName == o.Name ? [(o.Code, o.Name)] : new[] { (o.Code, o.Name), (o.Code, o.ShortName) }));
    private readonly Dictionary<string, string> _campaignsByName = ByName(catalog.Campaigns.Values.Select(c => (c.Code, c.Name)));

    /// <summary>Names that more than one entry shares are left out: such a name says nothing.</summary>
    private static Dictionary<string, string> ByName(IEnumerable<(string Code, string Name)> entries) =>
        entries.GroupBy(e => e.Name, StringComparer.Ordinal).Where(g => g.Count() == 1)
            .ToDictionary(g => g.Key, g => g.Single().Code, StringComparer.Ordinal);

    /// <summary>Errors in the header row itself (row 1): unknown columns, a column given twice, required columns missing.</summary>
    public IReadOnlyList<ImportError> CheckHeaders(IReadOnlyList<string> headers, int row = 1)
    {
        var errors = new List<ImportError>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var header in headers)
        {
            if (header.Length == 0 || Ignored(header))
                continue;
            var field = FieldOf(header);
            if (field is null)
                errors.Add(new ImportError(row, header,
                    Text.Say($"未知列“{header}”：请使用事件字段名、{EventFieldList.DimensionPrefix}<键>，或 {KnownHeaders}。",
                        $"Unknown column '{header}': use the event field names, {EventFieldList.DimensionPrefix}<key>, or {KnownHeaders}.")));
            else if (!seen.Add(field))
                errors.Add(new ImportError(row, header, Text.Say($"列“{header}”重复给出了 {field}。", $"Column '{header}' gives {field} a second time.")));
        }
        foreach (var required in (string[])["metric", "occurredOn", "quantity", "orgUnit"])
        {
            if (!seen.Contains(required))
                errors.Add(new ImportError(row, required, Text.Say($"文件中没有 {required}（{ChineseHeaderOf(required)}）列。", $"The file has no {required} column.")));
        }
        return errors;
    }

    /// <summary>The event field (or dim.&lt;key&gt;) a header names; null for an unknown header.</summary>
    public static string? FieldOf(string header)
    {
        if (FieldsByHeader.TryGetValue(header, out var field))
            return field;
        return header.StartsWith(EventFieldList.DimensionPrefix, StringComparison.Ordinal)
            && header.Length > EventFieldList.DimensionPrefix.Length ? header : null;
    }

    public MappedRow Map(SourceRow row)
    {
        if (row.Malformed is not null)
            return new MappedRow(row.Number, null, [new ImportError(row.Number, "row", row.Malformed)]);
        var errors = new List<ImportError>();
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var input = new EventInput();
        for (var i = 0; i < row.Headers.Count && i < row.Cells.Count; i++)
        {
            var header = row.Headers[i];
            if (Ignored(header))
                continue;
            var value = row.Cells[i]?.Trim();
            var field = FieldOf(header);
            if (field is null)
            {
                // NDJSON names its fields on every line; CSV and XLSX headers were checked once.
                if (value is not null || header.Length > 0)
                    errors.Add(new ImportError(row.Number, header, Text.Say($"未知字段“{header}”。", $"Unknown field '{header}'.")));
                continue;
            }
            labels[field] = header;
            if (value is null || value.Length == 0)
                continue;
            switch (field)
            {
                case "metric":
                    input.Metric = catalog.Metrics.ContainsKey(value) ? value : _metricsByName.GetValueOrDefault(value, value);
                    break;
                case "orgUnit":
                    input.OrgUnit = catalog.OrgUnits.ContainsKey(value) ? value : _orgUnitsByName.GetValueOrDefault(value, value);
                    break;
                case "campaign":
                    input.Campaign = catalog.Campaigns.ContainsKey(value) ? value : _campaignsByName.GetValueOrDefault(value, value);
                    break;
                case "occurredOn":
                    if (DateOnly.TryParseExact(value, DateFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
                        input.OccurredOn = day;
                    else
                        errors.Add(new ImportError(row.Number, header, Text.Say($"“{value}”不是日期：请写成 2024-03-05。", $"'{value}' is not a date: write it as 2024-03-05.")));
                    break;
                case "quantity":
                    // A sign is read, so -7 is told it is below 1 (the quantity rule), not that it is no number.
                    if (long.TryParse(value, NumberStyles.AllowThousands | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var quantity))
                        input.Quantity = quantity;
                    else
                        errors.Add(new ImportError(row.Number, header, Text.Say(
                            $"“{value}”不是整数：数量须为 1 到 {EventFieldRules.MaxQuantity:N0} 之间的整数。",
                            $"'{value}' is not a whole number: quantity is an integer from 1 to {EventFieldRules.MaxQuantity:N0}.")));
                    break;
                case "externalId":
                    input.ExternalId = value;
                    break;
                case "note":
                    input.Note = row.Cells[i];
                    break;
                default:
                    input.Dimensions ??= new Dictionary<string, string?>(StringComparer.Ordinal);
                    input.Dimensions[field[EventFieldList.DimensionPrefix.Length..]] = value;
                    break;
            }
        }
        if (input.ExternalId is null && name is null)
            errors.Add(new ImportError(row.Number, labels.GetValueOrDefault("externalId", "externalId"), Text.Say(
                "此行没有外部编号，导入也没有名称：请给出 ?name=，每行即按名称与内容识别，再次导入不会重复计数。",
                "This row has no externalId and the import has no name: give ?name= so that each row is known by the "
                + "name and its content, and a re-import never counts it twice.")));
        CheckRules(row.Number, input, labels, errors);
        if (errors.Count > 0)
            return new MappedRow(row.Number, null, errors);
        var mapped = input.ToNewEvent(catalog);
        return new MappedRow(row.Number, mapped, [], mapped.ExternalId is null ? ImportRowIdentity.ContentHash(mapped) : null);
    }

    /// <summary>
    /// A mapped row checked again against this mapper's catalog: every event rule and the key's reach. For the storing
    /// pass when the catalog changed after the checking pass (a metric deactivated, say); errors name the event fields.
    /// </summary>
    public IReadOnlyList<ImportError> Recheck(int number, NewEvent mapped)
    {
        var input = new EventInput
        {
            Metric = mapped.Metric, OccurredOn = mapped.OccurredOn, Quantity = mapped.Quantity, OrgUnit = mapped.OrgUnit,
            Campaign = mapped.Campaign, ExternalId = mapped.ExternalId, Note = mapped.Note,
            Dimensions = mapped.Dimensions.ToDictionary(p => p.Key, p => (string?)p.Value, StringComparer.Ordinal),
        };
        var errors = new List<ImportError>();
        CheckRules(number, input, new Dictionary<string, string>(StringComparer.Ordinal), errors);
        return errors;
    }

    /// <summary>Every rule of POST /events, then the key's reach; labels give the file's name for each field.</summary>
    private void CheckRules(int number, EventInput input, Dictionary<string, string> labels, List<ImportError> errors)
    {
        var parsed = errors.Select(e => e.Field).ToHashSet(StringComparer.Ordinal);
        foreach (var failure in _rules.Validate(input).Errors)
        {
            var field = failure.PropertyName;
            var label = field.StartsWith("dimensions.", StringComparison.Ordinal)
                ? labels.GetValueOrDefault("dim." + field[11..], "dim." + field[11..])
                : labels.GetValueOrDefault(field, field);
            // A cell that could not be read already has its error; "is required" on top of it says nothing more.
            if (!parsed.Contains(label))
                errors.Add(new ImportError(number, label, failure.ErrorMessage));
        }
        if (errors.Count == 0 && !OrgScope.CanReach(caller, input.OrgUnit!, catalog))
            errors.Add(new ImportError(number, labels.GetValueOrDefault("orgUnit", "orgUnit"),
                Text.Say($"此 API 密钥绑定于填报单位 {caller.OrgUnit}，无权写入填报单位“{input.OrgUnit}”：需要 {caller.OrgUnit} 或其下级单位。",
                    $"This API key is bound to org unit '{caller.OrgUnit}' and cannot write '{input.OrgUnit}': it requires {caller.OrgUnit} or a unit below it.")));
    }
}
