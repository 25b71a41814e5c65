using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ExcelDataReader;
using Sylvan.Data.Csv;
using Tally.Api.Features.Events;

namespace Tally.Api.Features.Imports;

public enum ImportFormat { Csv, Ndjson, Xlsx }

/// <summary>
/// One row of an import file as text: its number as a spreadsheet shows it (the header is row 1; NDJSON: the line),
/// the column headers and the cells. <see cref="Malformed"/> says why a row could not be read at all.
/// </summary>
public sealed record SourceRow(int Number, IReadOnlyList<string> Headers, IReadOnlyList<string?> Cells, string? Malformed = null);

/// <summary>Reads a spooled import file row by row (never the whole file at once): CSV, NDJSON or XLSX.</summary>
public static class ImportFiles
{
    public const string CsvType = "text/csv";
    public const string NdjsonType = "application/x-ndjson";
    public const string XlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

    static ImportFiles()
    {
        // GB18030 (CSV) and ExcelDataReader's default encoding (code page 1252) both need the code-pages provider, before
        // any file is read, whichever format comes first.
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        Gb18030 = Encoding.GetEncoding("GB18030");
    }

    /// <summary>GB18030 is what Excel writes a CSV in on Chinese Windows.</summary>
    public static Encoding Gb18030 { get; }

    public static ImportFormat? FormatOf(string? contentType)
    {
        var media = contentType?.Split(';', 2)[0].Trim();
        return media?.ToLowerInvariant() switch
        {
            CsvType => ImportFormat.Csv,
            NdjsonType or "application/ndjson" => ImportFormat.Ndjson,
            XlsxType => ImportFormat.Xlsx,
            _ => null,
        };
    }

    public static string ContentTypeOf(ImportFormat format) => format switch
    {
        ImportFormat.Ndjson => NdjsonType,
        ImportFormat.Xlsx => XlsxType,
        _ => CsvType,
    };

    /// <summary>The rows after the header, empty rows left out (they still count in the numbering).</summary>
    public static IEnumerable<SourceRow> Read(string path, ImportFormat format, string? sheet, bool utf8) => format switch
    {
        ImportFormat.Ndjson => ReadNdjson(path),
        ImportFormat.Xlsx => ReadXlsx(path, sheet),
        _ => ReadCsv(path, utf8 ? new UTF8Encoding(false) : Gb18030),
    };

    private static IEnumerable<SourceRow> ReadCsv(string path, Encoding encoding)
    {
        // detectEncodingFromByteOrderMarks drops a UTF-8 BOM, so the first header reads clean.
        using var text = new StreamReader(path, encoding, detectEncodingFromByteOrderMarks: true, bufferSize: 64 * 1024);
        using var csv = CsvDataReader.Create(text, new CsvDataReaderOptions { HasHeaders = true, BufferSize = 64 * 1024 });
        var headers = Enumerable.Range(0, csv.FieldCount).Select(i => csv.GetName(i).Trim()).ToArray();
        var line = 1;
        while (csv.Read())
        {
            // A quoted cell may hold line breaks; a spreadsheet still shows that record as one row.
            line++;
            var cells = new string?[headers.Length];
            var empty = true;
            for (var i = 0; i < headers.Length && i < csv.RowFieldCount; i++)
            {
                var value = csv.GetString(i);
                cells[i] = value.Length == 0 ? null : SpreadsheetText.Unguarded(value);
                empty &= string.IsNullOrWhiteSpace(value);
            }
            if (empty)
                continue;
            yield return csv.RowFieldCount > headers.Length
                ? new SourceRow(line, headers, cells, $"The row has {csv.RowFieldCount} cells; the header names {headers.Length} columns.")
                : new SourceRow(line, headers, cells);
        }
    }

    private static IEnumerable<SourceRow> ReadNdjson(string path)
    {
        using var text = new StreamReader(path, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true);
        var number = 0;
        while (text.ReadLine() is { } line)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            yield return NdjsonRow(number, line);
        }
    }

    private static SourceRow NdjsonRow(int number, string line)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(line);
        }
        catch (JsonException)
        {
            return new SourceRow(number, [], [], "The line is not valid JSON.");
        }
        if (node is not JsonObject fields)
            return new SourceRow(number, [], [], "The line is not a JSON object.");
        var headers = new List<string>(fields.Count + 2);
        var cells = new List<string?>(fields.Count + 2);
        foreach (var (name, value) in fields)
        {
            if (name == "dimensions" && value is JsonObject dimensions)
            {
                foreach (var (key, dimension) in dimensions)
                {
                    headers.Add("dim." + key);
                    cells.Add(JsonText(dimension));
                }
                continue;
            }
            headers.Add(name);
            cells.Add(JsonText(value));
        }
        return new SourceRow(number, headers, cells);
    }

    private static string? JsonText(JsonNode? value) => value switch
    {
        null => null,
        JsonValue text when text.GetValueKind() == JsonValueKind.String => text.GetValue<string>(),
        _ => value.ToJsonString(),
    };

    /// <summary>
    /// ExcelDataReader streams the sheet's XML (about three times MiniExcel's reading speed here, bench/README.md
    /// "Imports"); rows missing from the sheet come as empty rows, so a row's number is its place in the sheet.
    /// </summary>
    private static IEnumerable<SourceRow> ReadXlsx(string path, string? sheet)
    {
        using var stream = File.OpenRead(path);
        using var reader = ExcelReaderFactory.CreateOpenXmlReader(stream);
        while (sheet is not null && reader.Name != sheet)
        {
            if (!reader.NextResult())
                throw new InvalidDataException($"The workbook has no sheet named '{sheet}'.");
        }
        string[]? headers = null;
        while (reader.Read())
        {
            var columns = headers?.Length ?? reader.FieldCount;
            var cells = new string?[columns];
            var empty = true;
            for (var i = 0; i < columns && i < reader.FieldCount; i++)
            {
                cells[i] = CellText(reader.GetValue(i));
                empty &= string.IsNullOrWhiteSpace(cells[i]);
            }
            if (empty)
                continue;
            if (headers is null)
            {
                headers = cells.Select(c => c?.Trim() ?? "").ToArray();
                continue;
            }
            yield return new SourceRow(reader.Depth + 1, headers, cells);
        }
    }

    /// <summary>A cell as text: dates as ISO days, numbers without exponent or culture, an export's formula guard taken off.</summary>
    private static string? CellText(object? value) => value switch
    {
        null => null,
        string text => text.Length == 0 ? null : SpreadsheetText.Unguarded(text),
        DateTime day => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        DateOnly day => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        double number when number == Math.Floor(number) && Math.Abs(number) < 1e15 =>
            ((long)number).ToString(CultureInfo.InvariantCulture),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString(),
    };
}
