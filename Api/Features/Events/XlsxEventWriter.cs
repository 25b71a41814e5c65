using System.Data.Common;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Events;

/// <summary>
/// An XLSX workbook (one sheet named events, the CSV's columns) written by MiniExcel row by row from the reader into a
/// temporary file (a zip needs to seek back), then copied to the response: memory stays flat whatever the number of
/// rows. Quantities are numbers; every other cell is text exactly as the CSV writes it, guarded alike.
/// </summary>
public static class XlsxEventWriter
{
    private static readonly Dictionary<string, string> NoDimensions = [];

    public static async Task WriteAsync(Stream output, DbDataReader reader, IReadOnlyList<string> dimensionKeys,
        bool chinese, CancellationToken ct)
    {
        var headers = EventExport.Headers(dimensionKeys, chinese);
        var path = Path.Combine(Path.GetTempPath(), $"tally-export-{Guid.NewGuid():N}.xlsx");
        try
        {
            await MiniExcelLibs.MiniExcel.SaveAsAsync(path, Rows(reader, headers, dimensionKeys), sheetName: "events",
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

    private static IEnumerable<Dictionary<string, object?>> Rows(DbDataReader reader, IReadOnlyList<string> headers,
        IReadOnlyList<string> dimensionKeys)
    {
        var yielded = false;
        while (reader.Read())
        {
            yielded = true;
            var row = EventRow.Read(reader);
            var cells = new Dictionary<string, object?>(headers.Count, StringComparer.Ordinal);
            var column = 0;
            foreach (var field in EventFieldList.All)
            {
                switch (field.Kind)
                {
                    case EventFieldKind.Text:
                        cells[headers[column++]] = SpreadsheetText.Guarded(field.Text(row));
                        break;
                    case EventFieldKind.Number:
                        cells[headers[column++]] = field.Number(row);
                        break;
                    default:
                        var dimensions = EventFieldList.Dimensions(row, NoDimensions);
                        foreach (var key in dimensionKeys)
                            cells[headers[column++]] = SpreadsheetText.Guarded(dimensions.GetValueOrDefault(key));
                        break;
                }
            }
            yield return cells;
        }
        // No events: still a sheet with its header row.
        if (!yielded)
            yield return headers.ToDictionary(h => h, _ => (object?)null, StringComparer.Ordinal);
    }
}
