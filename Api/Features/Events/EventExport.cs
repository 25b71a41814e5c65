using System.Data.Common;
using System.IO.Pipelines;
using Dapper;
using Microsoft.Data.Sqlite;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Events;

public enum ExportFormat { Csv, CsvWithBom, Ndjson, Xlsx }

/// <summary>
/// What the three export writers share: their media types, the columns of CSV and XLSX (the event field list with one
/// dim.&lt;key&gt; column per declared dimension in place of dimensions), and flushing in small slices so memory stays
/// flat whatever the number of rows, slowed to the client's pace by the response pipe.
/// </summary>
public static class EventExport
{
    public const string CsvType = "text/csv";
    public const string NdjsonType = "application/x-ndjson";
    public const string XlsxType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    private const int FlushThreshold = 32 * 1024;

    /// <summary>Every dimension key the catalog declares, in catalog order: the dim.&lt;key&gt; columns of the CSV.</summary>
    public static IReadOnlyList<string> DimensionKeys(SqliteConnection connection, DbTransaction transaction) =>
        connection.Query<string>("SELECT dimensions FROM metrics ORDER BY position", transaction: transaction)
            .SelectMany(CatalogSnapshot.ParseDimensions).Select(d => d.Key).Distinct(StringComparer.Ordinal).ToList();

    /// <summary>The export's columns in order: the field names, or their Chinese headers (dim.&lt;key&gt; stays as it is).</summary>
    public static IReadOnlyList<string> Headers(IReadOnlyList<string> dimensionKeys, bool chinese) =>
        EventFieldList.All.SelectMany(f => f.Kind == EventFieldKind.Dimensions
            ? dimensionKeys.Select(k => EventFieldList.DimensionPrefix + k)
            : [chinese ? f.ChineseHeader : f.Name]).ToList();

    /// <summary>Flushes once enough is buffered; false when the client has gone and writing should stop.</summary>
    internal static async ValueTask<bool> FlushSometimesAsync(PipeWriter output, CancellationToken ct)
    {
        if (output.UnflushedBytes < FlushThreshold)
            return true;
        var flushed = await output.FlushAsync(ct);
        return !flushed.IsCanceled && !flushed.IsCompleted;
    }
}
