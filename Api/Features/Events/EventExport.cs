using System.Data.Common;
using System.Globalization;
using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Net.Http.Headers;
using Tally.Api.Catalog;
using Tally.Api.Problems;

namespace Tally.Api.Features.Events;

public enum ExportFormat { Csv, CsvWithBom, Ndjson }

/// <summary>
/// Writes events to a response as they are read: CSV (RFC 4180) or NDJSON, flushed in small slices so memory stays flat
/// whatever the number of rows, and slowed to the client's pace by the response pipe.
/// </summary>
public static class EventExport
{
    public const string CsvType = "text/csv";
    public const string NdjsonType = "application/x-ndjson";
    private const int FlushThreshold = 32 * 1024;

    private static readonly Dictionary<string, string> NoDimensions = [];

    private static readonly string[] FixedLeadingColumns = ["id", "metric", "occurredOn", "quantity", "orgUnit", "campaign"];

    private static readonly string[] FixedTrailingColumns =
        ["externalId", "note", "source", "recordedAt", "status", "voidedAt", "voidReason", "supersedes", "supersededBy"];

    /// <summary>?format wins; else the Accept header by preference; neither: CSV. 406 when Accept admits neither type.</summary>
    public static ExportFormat ChooseFormat(string? format, IList<MediaTypeHeaderValue> accept)
    {
        if (format is not null)
            return format == "ndjson" ? ExportFormat.Ndjson : ExportFormat.Csv;
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
        }
        throw new ProblemException(Problem.Make(StatusCodes.Status406NotAcceptable, ProblemTypes.NotAcceptable, "Not acceptable",
            "The export is written as text/csv or application/x-ndjson; ask for one in Accept, or use ?format=csv|ndjson."));
    }

    /// <summary>Every dimension key the catalog declares, in catalog order: the dim.&lt;key&gt; columns of the CSV.</summary>
    public static IReadOnlyList<string> DimensionKeys(SqliteConnection connection, DbTransaction transaction) =>
        connection.Query<string>("SELECT dimensions FROM metrics ORDER BY position", transaction: transaction)
            .SelectMany(CatalogSnapshot.ParseDimensions).Select(d => d.Key).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>Writes every row of <paramref name="reader"/> (selected with <see cref="EventRow.Columns"/>).</summary>
    public static async Task WriteAsync(PipeWriter output, DbDataReader reader, ExportFormat format,
        IReadOnlyList<string> dimensionKeys, CancellationToken ct)
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
            WriteCsvHeader(line, dimensionKeys);
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

    private static void WriteCsvHeader(StringBuilder line, IReadOnlyList<string> dimensionKeys)
    {
        line.Clear();
        var columns = FixedLeadingColumns.Concat(dimensionKeys.Select(k => "dim." + k)).Concat(FixedTrailingColumns);
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
