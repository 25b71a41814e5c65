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
    /// <summary>Writes the header and every row of <paramref name="reader"/> (selected with <see cref="EventRow.Columns"/>).</summary>
    public static async Task WriteAsync(PipeWriter output, DbDataReader reader, IReadOnlyList<string> dimensionKeys,
        IReadOnlyList<ExportColumn> columns, bool bom, CancellationToken ct)
    {
        if (bom)
            output.Write(Encoding.UTF8.Preamble);
        var line = new StringBuilder(512);
        var utf8 = Encoding.UTF8.GetEncoder();
        WriteHeader(line, columns);
        WriteUtf8(output, utf8, line);
        while (reader.Read())
        {
            WriteRow(line, EventRow.Read(reader), dimensionKeys, columns);
            WriteUtf8(output, utf8, line);
            if (!await EventExport.FlushSometimesAsync(output, ct))
                return;
        }
        await output.FlushAsync(ct);
    }

    private static void WriteHeader(StringBuilder line, IReadOnlyList<ExportColumn> columns)
    {
        line.Clear();
        for (var i = 0; i < columns.Count; i++)
            AppendField(i == 0 ? line : line.Append(','), columns[i].Header);
        line.Append("\r\n");
    }

    private static void WriteRow(StringBuilder line, EventRow row, IReadOnlyList<string> dimensionKeys,
        IReadOnlyList<ExportColumn> columns)
    {
        line.Clear();
        var dimensions = EventExport.Dimensions(row, dimensionKeys);
        for (var i = 0; i < columns.Count; i++)
        {
            var column = columns[i];
            if (i > 0)
                line.Append(',');
            if (column.Number is { } number)
                line.Append(number(row).ToString(CultureInfo.InvariantCulture));
            else
                AppendField(line, column.Text!(row, dimensions));
        }
        line.Append("\r\n");
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
