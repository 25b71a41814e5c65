using System.Buffers;
using System.Data.Common;
using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Events;

/// <summary>
/// CSV (RFC 4180, UTF-8, a header row): the event field list with one dim.&lt;key&gt; column per declared dimension;
/// text cells that a spreadsheet would run as a formula are guarded (<see cref="SpreadsheetText"/>).
/// </summary>
public static class CsvEventWriter
{
    private static readonly Dictionary<string, string> NoDimensions = [];

    /// <summary>Writes the header and every row of <paramref name="reader"/> (selected with <see cref="EventRow.Columns"/>).</summary>
    public static async Task WriteAsync(PipeWriter output, DbDataReader reader, IReadOnlyList<string> dimensionKeys, bool bom,
        bool chinese, CancellationToken ct)
    {
        if (bom)
            output.Write(Encoding.UTF8.Preamble);
        var line = new StringBuilder(512);
        var utf8 = Encoding.UTF8.GetEncoder();
        WriteHeader(line, EventExport.Headers(dimensionKeys, chinese));
        WriteUtf8(output, utf8, line);
        while (reader.Read())
        {
            WriteRow(line, EventRow.Read(reader), dimensionKeys);
            WriteUtf8(output, utf8, line);
            if (!await EventExport.FlushSometimesAsync(output, ct))
                return;
        }
        await output.FlushAsync(ct);
    }

    private static void WriteHeader(StringBuilder line, IReadOnlyList<string> columns)
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

    private static void WriteRow(StringBuilder line, EventRow row, IReadOnlyList<string> dimensionKeys)
    {
        line.Clear();
        var first = true;
        foreach (var field in EventFieldList.All)
        {
            switch (field.Kind)
            {
                case EventFieldKind.Text:
                    AppendField(first ? line : line.Append(','), field.Text(row));
                    break;
                case EventFieldKind.Number:
                    (first ? line : line.Append(',')).Append(field.Number(row).ToString(CultureInfo.InvariantCulture));
                    break;
                default:
                    AppendDimensions(line, row, dimensionKeys, first);
                    break;
            }
            first = false;
        }
        line.Append("\r\n");
    }

    private static void AppendDimensions(StringBuilder line, EventRow row, IReadOnlyList<string> dimensionKeys, bool first)
    {
        if (dimensionKeys.Count == 0 && row.Dimensions == "{}")
            return;
        var dimensions = EventFieldList.Dimensions(row, NoDimensions);
        foreach (var key in dimensions.Keys)
        {
            // The catalog refuses to drop a dimension events use, so this only fires on a damaged database.
            if (!dimensionKeys.Contains(key, StringComparer.Ordinal))
                throw new InvalidOperationException($"Event {row.Id} has dimension '{key}', which no metric declares.");
        }
        foreach (var key in dimensionKeys)
        {
            AppendField(first ? line : line.Append(','), dimensions.GetValueOrDefault(key));
            first = false;
        }
    }

    /// <summary>
    /// RFC 4180: a field holding a comma, quote or line break is quoted, with its quotes doubled; a text a spreadsheet
    /// would run as a formula starts with a guarding '.
    /// </summary>
    private static void AppendField(StringBuilder line, string? value)
    {
        if (string.IsNullOrEmpty(value))
            return;
        var guard = SpreadsheetText.NeedsGuard(value);
        if (value.AsSpan().IndexOfAny(",\"\r\n") < 0)
        {
            if (guard)
                line.Append(SpreadsheetText.Guard);
            line.Append(value);
            return;
        }
        line.Append('"');
        if (guard)
            line.Append(SpreadsheetText.Guard);
        foreach (var c in value)
        {
            if (c == '"')
                line.Append('"');
            line.Append(c);
        }
        line.Append('"');
    }

    /// <summary>Encodes chunk by chunk with one encoder, so a character split across chunks (an emoji) stays whole.</summary>
    private static void WriteUtf8(PipeWriter output, Encoder utf8, StringBuilder text)
    {
        foreach (var chunk in text.GetChunks())
            utf8.Convert(chunk.Span, output, flush: false, out _, out _);
    }
}
