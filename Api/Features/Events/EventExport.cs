using System.IO.Pipelines;
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

    private static readonly Dictionary<string, string> NoDimensions = [];

    /// <summary>
    /// The stored dimensions of a row, checked against the export's columns. The catalog refuses to drop a dimension
    /// events use, so the check only fires on a damaged database.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Dimensions(EventRow row, IReadOnlyList<string> dimensionKeys)
    {
        if (row.Dimensions == "{}")
            return NoDimensions;
        var dimensions = EventFieldList.Dimensions(row, NoDimensions);
        foreach (var key in dimensions.Keys)
        {
            if (!dimensionKeys.Contains(key, StringComparer.Ordinal))
                throw new InvalidOperationException($"Event {row.Id} has dimension '{key}', which no metric declares.");
        }
        return dimensions;
    }

    /// <summary>Flushes once enough is buffered; false when the client has gone and writing should stop.</summary>
    internal static async ValueTask<bool> FlushSometimesAsync(PipeWriter output, CancellationToken ct)
    {
        if (output.UnflushedBytes < FlushThreshold)
            return true;
        var flushed = await output.FlushAsync(ct);
        return !flushed.IsCanceled && !flushed.IsCompleted;
    }
}
