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

    /// <summary>
    /// The rows after the header, empty rows left out (they still count in the numbering). Bounded by
    /// <paramref name="limits"/> whatever the upload check let through; reading stops when <paramref name="budget"/> ends.
    /// </summary>
    public static IEnumerable<SourceRow> Read(string path, ImportFormat format, string? sheet, bool utf8,
        ImportLimitOptions limits, CancellationToken budget) => format switch
    {
        ImportFormat.Ndjson => ReadNdjson(path, limits, budget),
        ImportFormat.Xlsx => ReadXlsx(path, sheet, limits, budget),
        _ => ReadCsv(path, utf8 ? new UTF8Encoding(false) : Gb18030, limits, budget),
    };

    /// <summary>What a reader throws for a file it cannot read (its message is its own, never shown).</summary>
    public static bool IsUnreadable(Exception ex) => ex is InvalidDataException or IOException or FormatException
        or CsvFormatException or InvalidOperationException or ExcelDataReader.Exceptions.ExcelReaderException
        or System.Xml.XmlException or JsonException or DecoderFallbackException or ArgumentException
        or IndexOutOfRangeException or OverflowException;

    public static string HintFor(ImportFormat format) => format switch
    {
        ImportFormat.Xlsx => Tally.Api.Problems.Text.Say("它不是电子表格程序保存的工作簿（zip 或其 XML 已损坏）。", "it is not a workbook a spreadsheet program saved (the zip or its XML is damaged)."),
        ImportFormat.Ndjson => Tally.Api.Problems.Text.Say("有一行不是 UTF-8 JSON。", "a line is not UTF-8 JSON."),
        _ => Tally.Api.Problems.Text.Say("它不是 CSV 文本（请检查引号和编码：UTF-8 或 GB18030）。", "it is not CSV text (check the quotes and the encoding: UTF-8 or GB18030)."),
    };

    private static ImportLimitException CellTooLong(ImportLimitOptions limits, int row) =>
        ImportLimitException.Of(nameof(ImportLimitOptions.MaxCellChars), limits.MaxCellChars,
            $"Row {row} has a cell longer than {limits.MaxCellChars} characters");

    private static ImportLimitException TooManyColumns(ImportLimitOptions limits, int row, int columns) =>
        ImportLimitException.Of(nameof(ImportLimitOptions.MaxColumns), limits.MaxColumns,
            $"Row {row} has {columns} columns");

    private static IEnumerable<SourceRow> ReadCsv(string path, Encoding encoding, ImportLimitOptions limits, CancellationToken budget)
    {
        // A record must fit the reader's buffer: sized to the line limit, so a longer record is that limit, in our words.
        var buffer = Math.Max(4096, limits.MaxLineBytes);
        // detectEncodingFromByteOrderMarks drops a UTF-8 BOM, so the first header reads clean.
        using var text = new StreamReader(new BudgetStream(File.OpenRead(path), budget), encoding,
            detectEncodingFromByteOrderMarks: true, bufferSize: 64 * 1024);
        var line = 1;
        bool Next(CsvDataReader reader)
        {
            try
            {
                return reader.Read();
            }
            catch (CsvRecordTooLargeException)
            {
                throw RecordTooLong(limits, line + 1);
            }
        }
        CsvDataReader csv;
        try
        {
            csv = CsvDataReader.Create(text, new CsvDataReaderOptions { HasHeaders = true, BufferSize = buffer, MaxBufferSize = buffer });
        }
        catch (CsvRecordTooLargeException)
        {
            throw RecordTooLong(limits, 1);
        }
        using var _ = csv;
        if (csv.FieldCount > limits.MaxColumns)
            throw TooManyColumns(limits, 1, csv.FieldCount);
        var headers = Enumerable.Range(0, csv.FieldCount).Select(i => csv.GetName(i).Trim()).ToArray();
        while (Next(csv))
        {
            // A quoted cell may hold line breaks; a spreadsheet still shows that record as one row.
            line++;
            var cells = new string?[headers.Length];
            var empty = true;
            for (var i = 0; i < headers.Length && i < csv.RowFieldCount; i++)
            {
                var value = csv.GetString(i);
                if (value.Length > limits.MaxCellChars)
                    throw CellTooLong(limits, line);
                cells[i] = value.Length == 0 ? null : SpreadsheetText.Unguarded(value);
                empty &= string.IsNullOrWhiteSpace(value);
            }
            if (empty)
                continue;
            yield return csv.RowFieldCount > headers.Length
                ? new SourceRow(line, headers, cells, Tally.Api.Problems.Text.Say($"该行有 {csv.RowFieldCount} 个单元格，而表头有 {headers.Length} 列。", $"The row has {csv.RowFieldCount} cells; the header names {headers.Length} columns."))
                : new SourceRow(line, headers, cells);
        }
    }

    private static ImportLimitException RecordTooLong(ImportLimitOptions limits, int row) =>
        ImportLimitException.Of(nameof(ImportLimitOptions.MaxLineBytes), limits.MaxLineBytes,
            $"The record at row {row} is longer than {limits.MaxLineBytes} characters");

    private static IEnumerable<SourceRow> ReadNdjson(string path, ImportLimitOptions limits, CancellationToken budget)
    {
        using var file = new BudgetStream(File.OpenRead(path), budget);
        var utf8 = new UTF8Encoding(false, throwOnInvalidBytes: true);
        var number = 0;
        foreach (var bytes in BoundedLines.Read(file, limits.MaxLineBytes))
        {
            number++;
            var line = utf8.GetString(number == 1 && bytes.Span.StartsWith(Encoding.UTF8.Preamble) ? bytes.Span[3..] : bytes.Span);
            if (string.IsNullOrWhiteSpace(line))
                continue;
            yield return NdjsonRow(number, line, limits);
        }
    }

    private static SourceRow NdjsonRow(int number, string line, ImportLimitOptions limits)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(line);
        }
        catch (JsonException)
        {
            return new SourceRow(number, [], [], Tally.Api.Problems.Text.Say("该行不是有效的 JSON。", "The line is not valid JSON."));
        }
        if (node is not JsonObject fields)
            return new SourceRow(number, [], [], Tally.Api.Problems.Text.Say("该行不是 JSON 对象。", "The line is not a JSON object."));
        if (fields.Count > limits.MaxColumns)
            throw TooManyColumns(limits, number, fields.Count);
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
        if (headers.Count > limits.MaxColumns)
            throw TooManyColumns(limits, number, headers.Count);
        if (cells.Any(c => c?.Length > limits.MaxCellChars))
            throw CellTooLong(limits, number);
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
    private static IEnumerable<SourceRow> ReadXlsx(string path, string? sheet, ImportLimitOptions limits, CancellationToken budget)
    {
        // The upload check (WorkbookGuard) bounded every part; the stream only ends the read when the budget does.
        using var stream = new BudgetStream(File.OpenRead(path), budget, seekable: true);
        using var reader = ExcelReaderFactory.CreateOpenXmlReader(stream);
        while (sheet is not null && reader.Name != sheet)
        {
            if (!reader.NextResult())
                throw new ImportFileException(Tally.Api.Problems.Text.Say($"工作簿中没有名为“{sheet}”的工作表。", $"The workbook has no sheet named '{sheet}'."));
        }
        if (reader.FieldCount > limits.MaxColumns)
            throw TooManyColumns(limits, 1, reader.FieldCount);
        string[]? headers = null;
        while (reader.Read())
        {
            var columns = headers?.Length ?? reader.FieldCount;
            var cells = new string?[columns];
            var empty = true;
            for (var i = 0; i < columns && i < reader.FieldCount; i++)
            {
                cells[i] = CellText(reader.GetValue(i));
                if (cells[i]?.Length > limits.MaxCellChars)
                    throw CellTooLong(limits, reader.Depth + 1);
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
