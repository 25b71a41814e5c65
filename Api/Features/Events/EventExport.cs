using System.Buffers;
using System.Data.Common;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Net.Http.Headers;
using Tally.Api.Data;
using Tally.Api.Ledger;
using Tally.Api.Problems;

namespace Tally.Api.Features.Events;

public enum ExportFormat { Csv, CsvWithBom, Ndjson, Xlsx }

/// <summary>
/// Writes events to a response as they are read: CSV (RFC 4180) or NDJSON, flushed in small slices so memory stays flat
/// whatever the number of rows, and slowed to the client's pace by the response pipe.
/// </summary>
public static class EventExport
{
    public const string CsvType = "text/csv";
    public const string NdjsonType = "application/x-ndjson";
    public const string XlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    private const int FlushThreshold = 32 * 1024;

    private static readonly Dictionary<string, string> NoDimensions = [];

    private static readonly string[] FixedLeadingColumns = ["id", "metric", "occurredOn", "quantity", "orgUnit", "campaign"];

    private static readonly string[] FixedTrailingColumns =
        ["externalId", "note", "source", "recordedAt", "status", "voidedAt", "voidReason", "supersedes", "supersededBy"];

    /// <summary>?format wins; else the Accept header by preference; neither: CSV. 406 when Accept admits neither type.</summary>
    public static ExportFormat ChooseFormat(string? format, IList<MediaTypeHeaderValue> accept)
    {
        if (format is not null)
            return format switch { "ndjson" => ExportFormat.Ndjson, "xlsx" => ExportFormat.Xlsx, _ => ExportFormat.Csv };
        if (accept.Count == 0)
            return ExportFormat.Csv;
        foreach (var type in accept.OrderByDescending(a => a.Quality ?? 1.0))
        {
            if (type.Quality == 0)
                continue;
            var media = type.MediaType.Value ?? "";
            if (media.Equals(CsvType, StringComparison.OrdinalIgnoreCase) || media is "*/*" or "text/*")
                return ExportFormat.Csv;
            if (media.Equals(NdjsonType, StringComparison.OrdinalIgnoreCase)
                || media.Equals("application/ndjson", StringComparison.OrdinalIgnoreCase)
                || media.Equals("application/*", StringComparison.OrdinalIgnoreCase))
                return ExportFormat.Ndjson;
            if (media.Equals(XlsxType, StringComparison.OrdinalIgnoreCase))
                return ExportFormat.Xlsx;
        }
        throw new ProblemException(Problem.Make(StatusCodes.Status406NotAcceptable, ProblemTypes.NotAcceptable, "Not acceptable",
            "The export is written as text/csv, application/x-ndjson or an XLSX workbook; ask for one in Accept, or use ?format=csv|ndjson|xlsx."));
    }

    /// <summary>Every dimension key the catalog declares, in catalog order: the dim.&lt;key&gt; columns of the CSV.</summary>
    public static IReadOnlyList<string> DimensionKeys(SqliteConnection connection, DbTransaction transaction) =>
        connection.Query<string>("SELECT dimensions FROM metrics ORDER BY position", transaction: transaction)
            .SelectMany(CatalogSnapshot.ParseDimensions).Select(d => d.Key).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The Chinese column headers (headers=zh): the ones POST /imports reads, and plain names for the rest.</summary>
    public static readonly IReadOnlyDictionary<string, string> ChineseHeaders = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["id"] = "编号", ["metric"] = "指标", ["occurredOn"] = "日期", ["quantity"] = "数量", ["orgUnit"] = "填报单位",
        ["campaign"] = "专项行动", ["externalId"] = "外部编号", ["note"] = "备注", ["source"] = "来源", ["recordedAt"] = "录入时间",
        ["status"] = "状态", ["voidedAt"] = "作废时间", ["voidReason"] = "作废原因", ["supersedes"] = "取代",
        ["supersededBy"] = "被取代于",
    };

    /// <summary>The export's columns in order: the field names, or their Chinese headers (dim.&lt;key&gt; stays as it is).</summary>
    public static IReadOnlyList<string> Headers(IReadOnlyList<string> dimensionKeys, bool chinese) =>
        FixedLeadingColumns.Concat(dimensionKeys.Select(k => "dim." + k)).Concat(FixedTrailingColumns)
            .Select(c => chinese ? ChineseHeaders.GetValueOrDefault(c, c) : c).ToList();

    /// <summary>
    /// An XLSX workbook (one sheet, header row) written by MiniExcel row by row from the reader into a temporary file
    /// (a zip needs to seek back), then copied to the response: memory stays flat whatever the number of rows.
    /// Quantities are numbers; everything else is text exactly as the CSV writes it.
    /// </summary>
    public static async Task WriteXlsxAsync(Stream output, DbDataReader reader, IReadOnlyList<string> dimensionKeys,
        bool chinese, CancellationToken ct)
    {
        var headers = Headers(dimensionKeys, chinese);
        var path = Path.Combine(Path.GetTempPath(), $"tally-export-{Guid.NewGuid():N}.xlsx");
        try
        {
            await MiniExcelLibs.MiniExcel.SaveAsAsync(path, XlsxRows(reader, headers, dimensionKeys), sheetName: "events",
                excelType: MiniExcelLibs.ExcelType.XLSX, cancellationToken: ct);
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024,
                FileOptions.Asynchronous | FileOptions.SequentialScan);
            await file.CopyToAsync(output, ct);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static IEnumerable<Dictionary<string, object?>> XlsxRows(DbDataReader reader, IReadOnlyList<string> headers,
        IReadOnlyList<string> dimensionKeys)
    {
        var yielded = false;
        while (reader.Read())
        {
            yielded = true;
            var row = EventRow.Read(reader);
            var dimensions = row.Dimensions == "{}"
                ? NoDimensions
                : JsonSerializer.Deserialize<Dictionary<string, string>>(row.Dimensions) ?? NoDimensions;
            object?[] values =
            [
                row.Id, row.Metric, row.OccurredOn, row.Quantity, row.OrgUnit, row.Campaign,
                .. dimensionKeys.Select(k => dimensions.GetValueOrDefault(k)),
                row.ExternalId, row.Note, row.Source, Ledger.EventAuditJson.ApiInstant(row.RecordedAt),
                row.VoidedAt is null ? "active" : "voided",
                row.VoidedAt is null ? null : Ledger.EventAuditJson.ApiInstant(row.VoidedAt), row.VoidReason, row.Supersedes,
                row.SupersededBy,
            ];
            var cells = new Dictionary<string, object?>(headers.Count, StringComparer.Ordinal);
            for (var i = 0; i < headers.Count; i++)
                cells[headers[i]] = values[i];
            yield return cells;
        }
        // No events: still a sheet with its header row.
        if (!yielded)
            yield return headers.ToDictionary(h => h, _ => (object?)null, StringComparer.Ordinal);
    }

    /// <summary>Writes every row of <paramref name="reader"/> (selected with <see cref="EventRow.Columns"/>).</summary>
    public static async Task WriteAsync(PipeWriter output, DbDataReader reader, ExportFormat format,
        IReadOnlyList<string> dimensionKeys, CancellationToken ct, bool chinese = false)
    {
        var csv = format is ExportFormat.Csv or ExportFormat.CsvWithBom;
        if (format == ExportFormat.CsvWithBom)
            output.Write(Encoding.UTF8.Preamble);
        var line = new StringBuilder(512);
        var utf8 = Encoding.UTF8.GetEncoder();
        await using var json = new Utf8JsonWriter(output, new JsonWriterOptions
        {
            Encoder = TallyJson.Options.Encoder, SkipValidation = true,
        });
        if (csv)
        {
            WriteCsvHeader(line, Headers(dimensionKeys, chinese));
            WriteUtf8(output, utf8, line);
        }
        while (reader.Read())
        {
            var row = EventRow.Read(reader);
            if (csv)
            {
                WriteCsvRow(line, row, dimensionKeys);
                WriteUtf8(output, utf8, line);
            }
            else
            {
                WriteJsonRow(json, row);
                json.Flush();
                json.Reset();
                output.Write("\n"u8);
            }
            if (output.UnflushedBytes >= FlushThreshold)
            {
                var flushed = await output.FlushAsync(ct);
                if (flushed.IsCanceled || flushed.IsCompleted)
                    return;
            }
        }
        await output.FlushAsync(ct);
    }

    /// <summary>
    /// An event as <see cref="EventResponse"/> serializes (same fields, order and formats), written from the row directly.
    /// The stored dimensions object is already JSON (codes only) and goes out as it is.
    /// </summary>
    private static void WriteJsonRow(Utf8JsonWriter json, EventRow row)
    {
        json.WriteStartObject();
        json.WriteString(Names.Id, row.Id);
        json.WriteString(Names.Metric, row.Metric);
        json.WriteString(Names.OccurredOn, row.OccurredOn);
        json.WriteNumber(Names.Quantity, row.Quantity);
        json.WriteString(Names.OrgUnit, row.OrgUnit);
        json.WriteString(Names.Campaign, row.Campaign);
        json.WritePropertyName(Names.Dimensions);
        json.WriteRawValue(row.Dimensions, skipInputValidation: true);
        json.WriteString(Names.ExternalId, row.ExternalId);
        json.WriteString(Names.Note, row.Note);
        json.WriteString(Names.Source, row.Source);
        json.WriteString(Names.RecordedAt, Ledger.EventAuditJson.ApiInstant(row.RecordedAt));
        json.WriteString(Names.Status, row.VoidedAt is null ? Names.Active : Names.Voided);
        json.WriteString(Names.VoidedAt, row.VoidedAt is null ? null : Ledger.EventAuditJson.ApiInstant(row.VoidedAt));
        json.WriteString(Names.VoidReason, row.VoidReason);
        json.WriteString(Names.Supersedes, row.Supersedes);
        json.WriteString(Names.SupersededBy, row.SupersededBy);
        json.WriteEndObject();
    }

    /// <summary>Property names encoded once, not on every row.</summary>
    private static class Names
    {
        public static readonly JsonEncodedText Id = JsonEncodedText.Encode("id");
        public static readonly JsonEncodedText Metric = JsonEncodedText.Encode("metric");
        public static readonly JsonEncodedText OccurredOn = JsonEncodedText.Encode("occurredOn");
        public static readonly JsonEncodedText Quantity = JsonEncodedText.Encode("quantity");
        public static readonly JsonEncodedText OrgUnit = JsonEncodedText.Encode("orgUnit");
        public static readonly JsonEncodedText Campaign = JsonEncodedText.Encode("campaign");
        public static readonly JsonEncodedText Dimensions = JsonEncodedText.Encode("dimensions");
        public static readonly JsonEncodedText ExternalId = JsonEncodedText.Encode("externalId");
        public static readonly JsonEncodedText Note = JsonEncodedText.Encode("note");
        public static readonly JsonEncodedText Source = JsonEncodedText.Encode("source");
        public static readonly JsonEncodedText RecordedAt = JsonEncodedText.Encode("recordedAt");
        public static readonly JsonEncodedText Status = JsonEncodedText.Encode("status");
        public static readonly JsonEncodedText VoidedAt = JsonEncodedText.Encode("voidedAt");
        public static readonly JsonEncodedText VoidReason = JsonEncodedText.Encode("voidReason");
        public static readonly JsonEncodedText Supersedes = JsonEncodedText.Encode("supersedes");
        public static readonly JsonEncodedText SupersededBy = JsonEncodedText.Encode("supersededBy");
        public static readonly JsonEncodedText Active = JsonEncodedText.Encode("active");
        public static readonly JsonEncodedText Voided = JsonEncodedText.Encode("voided");
    }

    private static void WriteCsvHeader(StringBuilder line, IReadOnlyList<string> columns)
    {
        line.Clear();
        var first = true;
        foreach (var column in columns)
        {
            if (!first)
                line.Append(',');
            AppendField(line, column);
            first = false;
        }
        line.Append("\r\n");
    }

    private static void WriteCsvRow(StringBuilder line, EventRow row, IReadOnlyList<string> dimensionKeys)
    {
        line.Clear();
        AppendField(line, row.Id).Append(',');
        AppendField(line, row.Metric).Append(',');
        AppendField(line, row.OccurredOn).Append(',');
        line.Append(row.Quantity.ToString(CultureInfo.InvariantCulture)).Append(',');
        AppendField(line, row.OrgUnit).Append(',');
        AppendField(line, row.Campaign).Append(',');
        if (dimensionKeys.Count > 0 || row.Dimensions != "{}")
        {
            var dimensions = row.Dimensions == "{}"
                ? NoDimensions
                : JsonSerializer.Deserialize<Dictionary<string, string>>(row.Dimensions) ?? NoDimensions;
            foreach (var key in dimensions.Keys)
            {
                // The catalog refuses to drop a dimension events use, so this only fires on a damaged database.
                if (!dimensionKeys.Contains(key, StringComparer.Ordinal))
                    throw new InvalidOperationException($"Event {row.Id} has dimension '{key}', which no metric declares.");
            }
            foreach (var key in dimensionKeys)
                AppendField(line, dimensions.GetValueOrDefault(key)).Append(',');
        }
        AppendField(line, row.ExternalId).Append(',');
        AppendField(line, row.Note).Append(',');
        AppendField(line, row.Source).Append(',');
        AppendField(line, Ledger.EventAuditJson.ApiInstant(row.RecordedAt)).Append(',');
        line.Append(row.VoidedAt is null ? "active," : "voided,");
        AppendField(line, row.VoidedAt is null ? null : Ledger.EventAuditJson.ApiInstant(row.VoidedAt)).Append(',');
        AppendField(line, row.VoidReason).Append(',');
        AppendField(line, row.Supersedes).Append(',');
        AppendField(line, row.SupersededBy).Append("\r\n");
    }

    /// <summary>RFC 4180: a field holding a comma, quote or line break is quoted, with its quotes doubled.</summary>
    private static StringBuilder AppendField(StringBuilder line, string? value)
    {
        if (string.IsNullOrEmpty(value))
            return line;
        if (value.AsSpan().IndexOfAny(",\"\r\n") < 0)
            return line.Append(value);
        line.Append('"');
        foreach (var c in value)
        {
            if (c == '"')
                line.Append('"');
            line.Append(c);
        }
        return line.Append('"');
    }

    /// <summary>Encodes chunk by chunk with one encoder, so a character split across chunks (an emoji) stays whole.</summary>
    private static void WriteUtf8(PipeWriter output, Encoder utf8, StringBuilder text)
    {
        foreach (var chunk in text.GetChunks())
            utf8.Convert(chunk.Span, output, flush: false, out _, out _);
    }
}
