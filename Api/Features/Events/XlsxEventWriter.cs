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
    public static async Task WriteAsync(Stream output, DbDataReader reader, IReadOnlyList<string> dimensionKeys,
        IReadOnlyList<ExportColumn> columns, CancellationToken ct)
    {
        var path = Path.Combine(Path.GetTempPath(), $"tally-export-{Guid.NewGuid():N}.xlsx");
        try
        {
            await MiniExcelLibs.MiniExcel.SaveAsAsync(path, Rows(reader, dimensionKeys, columns), sheetName: "events",
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

    private static IEnumerable<Dictionary<string, object?>> Rows(DbDataReader reader, IReadOnlyList<string> dimensionKeys,
        IReadOnlyList<ExportColumn> columns)
    {
        var yielded = false;
        while (reader.Read())
        {
            yielded = true;
            var row = EventRow.Read(reader);
            var dimensions = EventExport.Dimensions(row, dimensionKeys);
            var cells = new Dictionary<string, object?>(columns.Count, StringComparer.Ordinal);
            foreach (var column in columns)
                cells[column.Header] = column.Number is { } number ? number(row) : SpreadsheetText.Guarded(column.Text!(row, dimensions));
            yield return cells;
        }
        // No events: still a sheet with its header row.
        if (!yielded)
            yield return columns.ToDictionary(c => c.Header, _ => (object?)null, StringComparer.Ordinal);
    }
}
