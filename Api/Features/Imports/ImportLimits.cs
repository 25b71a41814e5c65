using System.Globalization;
using Tally.Api.Problems;

namespace Tally.Api.Features.Imports;

/// <summary>
/// Tally:Limits:Imports: what an import file may unpack to and what uploads may hold (CONTRACT.md, Imports), so a small
/// file cannot cost without bound. Defaults in appsettings.json and Api/README.md.
/// </summary>
public sealed class ImportLimitOptions
{
    public const string Section = "Tally:Limits:Imports";

    /// <summary>Columns a row may reach (Excel's own last column, XFD, is 16384).</summary>
    public int MaxColumns { get; set; } = 1024;

    /// <summary>The last row number a file may have, the header included (Excel's own limit).</summary>
    public int MaxRows { get; set; } = 1_048_576;

    /// <summary>Cells a file may hold; for XLSX also the rows a sheet reaches times the columns it reaches.</summary>
    public long MaxCells { get; set; } = 32L * 1024 * 1024;

    /// <summary>Characters in one cell (Excel's own limit is 32767).</summary>
    public int MaxCellChars { get; set; } = 32_767;

    /// <summary>Bytes in one line of a CSV or NDJSON file (a CSV record that spans lines counts whole).</summary>
    public int MaxLineBytes { get; set; } = 1024 * 1024;

    /// <summary>Unpacked bytes of one worksheet of an XLSX (read as a stream).</summary>
    public long MaxSheetBytes { get; set; } = 512L * 1024 * 1024;

    /// <summary>Unpacked bytes of any other part of an XLSX (shared strings, styles: the reader holds them in memory).</summary>
    public long MaxPartBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Unpacked bytes of a whole XLSX.</summary>
    public long MaxUnpackedBytes { get; set; } = 1024L * 1024 * 1024;

    /// <summary>Entries in an XLSX's zip directory.</summary>
    public int MaxZipEntries { get; set; } = 10_000;

    /// <summary>Merged ranges and column definitions in one sheet (the reader holds them in memory).</summary>
    public int MaxMergedRanges { get; set; } = 65_536;

    /// <summary>How long one import may run (checking and storing); past it the import fails and stores nothing.</summary>
    public TimeSpan MaxRunTime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Rows an import stores per piece: each piece is one short write between other writers' groups, so none waits
    /// behind an import for longer than a piece takes (about 0.1 s per 20,000 rows here); the import still commits whole.
    /// </summary>
    public int PieceRows { get; set; } = 20_000;

    /// <summary>Uploads being received at once, server-wide (503 with Retry-After above it).</summary>
    public int MaxConcurrentUploads { get; set; } = 4;

    /// <summary>Bytes one API key may hold in the spool (uploads and imports not yet finished; 429 above it).</summary>
    public long MaxSpoolBytesPerKey { get; set; } = 2L * 1024 * 1024 * 1024;

    public static string Name(string setting) => $"{Section}:{setting}";
}

/// <summary>A file past one of <see cref="ImportLimitOptions"/>: 413 payload-too-large, the limit named in its detail.</summary>
public sealed class ImportLimitException(string setting, string detail) : Exception(detail)
{
    public string Setting { get; } = setting;

    public static ImportLimitException Of(string setting, IFormattable limit, string what) =>
        new(setting, string.Create(CultureInfo.InvariantCulture,
            $"{Problems.Text.Say($"文件超出上限：{ImportLimitOptions.Name(setting)} 允许 {limit}（{what}）。未导入任何内容。", $"{what}; {ImportLimitOptions.Name(setting)} allows {limit}. Nothing was imported.")}"));

    public ProblemException ToProblem() =>
        new(Problem.Make(StatusCodes.Status413PayloadTooLarge, ProblemTypes.PayloadTooLarge, ProblemMiddleware.PayloadTooLargeTitle, Message));
}

/// <summary>A file that cannot be read as its type says, in Tally's words (never a library's message).</summary>
public sealed class ImportFileException(string message) : Exception(message);
