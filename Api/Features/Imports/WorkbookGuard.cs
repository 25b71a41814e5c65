using System.Buffers.Binary;
using System.IO.Compression;
using System.Xml;

namespace Tally.Api.Features.Imports;

/// <summary>What the check of a workbook found: null when the reader may open it, else why it cannot be read.</summary>
public sealed record WorkbookVerdict(string? Unreadable);

/// <summary>
/// Checks an uploaded XLSX before ExcelDataReader sees it (STACK-NOTES: it sizes every row by the largest column it meets
/// and reads a string whole): every part of the zip is read once as a bounded stream, its markup measured byte by byte,
/// then its XML walked for columns, rows, cells and string lengths. Throws <see cref="ImportLimitException"/> past a
/// limit and <see cref="ImportDtdException"/> for a DTD; a file that is no zip, or whose XML the reader would refuse
/// anyway, is left for the import to report.
/// </summary>
public static class WorkbookGuard
{
    public static WorkbookVerdict Check(string path, ImportLimitOptions limits, CancellationToken ct)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024);
        var entries = ZipEntryCount(file);
        if (entries is null)
            return new WorkbookVerdict(Tally.Api.Problems.Text.Say("它不是 XLSX 工作簿（没有 zip 目录）。", "it is not an XLSX workbook (no zip directory)."));
        if (entries > limits.MaxZipEntries)
            throw ImportLimitException.Of(nameof(ImportLimitOptions.MaxZipEntries), limits.MaxZipEntries,
                $"The workbook's zip holds {entries} entries");
        file.Position = 0;
        ZipArchive zip;
        try
        {
            zip = new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException)
        {
            return new WorkbookVerdict(Tally.Api.Problems.Text.Say("它的 zip 目录已损坏。", "its zip directory is damaged."));
        }
        using (zip)
        {
            long unpacked = 0;
            foreach (var entry in zip.Entries)
            {
                ct.ThrowIfCancellationRequested();
                var sheet = entry.FullName.Replace('\\', '/').StartsWith("xl/worksheets/", StringComparison.OrdinalIgnoreCase);
                Stream content;
                try
                {
                    content = entry.Open();
                }
                catch (Exception ex) when (ex is InvalidDataException or NotSupportedException or IOException)
                {
                    return new WorkbookVerdict(Tally.Api.Problems.Text.Say($"它的部件“{entry.FullName}”无法解压。", $"its part '{entry.FullName}' cannot be unpacked."));
                }
                using var guarded = new MarkupGuardStream(content, entry.FullName, sheet, limits, unpacked);
                if (ScanPart(guarded, limits, ct) is { } unreadable)
                    return new WorkbookVerdict(unreadable);
                unpacked = guarded.Unpacked;
            }
        }
        return new WorkbookVerdict(null);
    }

    /// <summary>The entry count of the zip's end-of-central-directory record (ZIP64 too); null when there is none.</summary>
    private static long? ZipEntryCount(FileStream file)
    {
        const int eocdSize = 22;
        var tailLength = (int)Math.Min(file.Length, eocdSize + ushort.MaxValue);
        if (tailLength < eocdSize)
            return null;
        var tail = new byte[tailLength];
        file.Position = file.Length - tailLength;
        file.ReadExactly(tail);
        for (var at = tailLength - eocdSize; at >= 0; at--)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(at)) != 0x06054b50)
                continue;
            long entries = BinaryPrimitives.ReadUInt16LittleEndian(tail.AsSpan(at + 10));
            if (entries != ushort.MaxValue || at < 20
                || BinaryPrimitives.ReadUInt32LittleEndian(tail.AsSpan(at - 20)) != 0x07064b50)
                return entries;
            // ZIP64: the locator before the record points at the ZIP64 record, which holds the real count.
            var record = (long)BinaryPrimitives.ReadUInt64LittleEndian(tail.AsSpan(at - 20 + 8));
            if (record < 0 || record > file.Length - 56)
                return long.MaxValue;
            var zip64 = new byte[56];
            file.Position = record;
            file.ReadExactly(zip64);
            var count = BinaryPrimitives.ReadUInt64LittleEndian(zip64.AsSpan(32));
            return count > long.MaxValue ? long.MaxValue : (long)count;
        }
        return null;
    }

    /// <summary>Walks one part; returns why the file cannot be read, or null (a part that is not XML is never read as XML).</summary>
    private static string? ScanPart(MarkupGuardStream part, ImportLimitOptions limits, CancellationToken ct)
    {
        // The reader's own settings (XmlReader.Create's defaults, DTDs prohibited), so it stops exactly where this does.
        var settings = new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null, CloseInput = false };
        var shape = new SheetShape(part.Name, limits);
        try
        {
            using var xml = XmlReader.Create(part, settings);
            var nodes = 0;
            while (xml.Read())
            {
                if (part.Utf16)
                    return Tally.Api.Problems.Text.Say($"它的部件“{part.Name}”不是 UTF-8。", $"its part '{part.Name}' is not UTF-8.");
                if ((++nodes & 0xFFFF) == 0)
                    ct.ThrowIfCancellationRequested();
                shape.Take(xml);
            }
        }
        catch (XmlException) when (part.SawDoctype)
        {
            throw new ImportDtdException(part.Name);
        }
        catch (XmlException)
        {
            // Not XML (an image), or XML the reader refuses at the same place: nothing past this point is ever read.
        }
        shape.Finish();
        return null;
    }

    /// <summary>Rows, columns, cells and strings of one part as ExcelDataReader would take them.</summary>
    private sealed class SheetShape(string part, ImportLimitOptions limits)
    {
        private long _cells, _maxRow = -1, _maxColumn = -1;
        private int _row = -1, _nextRow, _nextColumn, _rowCells, _ranges, _stringDepth = -1;
        private long _stringChars;

        public void Take(XmlReader xml)
        {
            switch (xml.NodeType)
            {
                case XmlNodeType.Element:
                    Element(xml);
                    break;
                case XmlNodeType.EndElement when xml.Depth == _stringDepth:
                    _stringDepth = -1;
                    break;
                case XmlNodeType.Text or XmlNodeType.CDATA or XmlNodeType.Whitespace or XmlNodeType.SignificantWhitespace:
                    var length = xml.Value.Length;
                    if (_stringDepth >= 0)
                        _stringChars += length;
                    if (length > limits.MaxCellChars || _stringChars > limits.MaxCellChars)
                        throw ImportLimitException.Of(nameof(ImportLimitOptions.MaxCellChars), limits.MaxCellChars,
                            $"A text in the workbook's part '{part}' is longer than {limits.MaxCellChars} characters");
                    break;
            }
        }

        private void Element(XmlReader xml)
        {
            switch (xml.LocalName)
            {
                case "row":
                    var row = int.TryParse(xml.GetAttribute("r"), out var number) ? number - 1 : _nextRow;
                    if (row >= limits.MaxRows)
                        throw ImportLimitException.Of(nameof(ImportLimitOptions.MaxRows), limits.MaxRows,
                            $"The sheet '{part}' reaches row {(long)row + 1}");
                    if (row != _row)
                        _rowCells = 0;
                    _row = row;
                    _nextRow = row + 1;
                    _nextColumn = 0;
                    _maxRow = Math.Max(_maxRow, row);
                    break;
                case "c":
                    var column = ColumnOf(xml.GetAttribute("r")) ?? _nextColumn;
                    if (column >= limits.MaxColumns || ++_rowCells > limits.MaxColumns)
                        throw ImportLimitException.Of(nameof(ImportLimitOptions.MaxColumns), limits.MaxColumns,
                            $"The sheet '{part}' has a cell past column {limits.MaxColumns} (at row {_row + 1})");
                    if (++_cells > limits.MaxCells)
                        throw ImportLimitException.Of(nameof(ImportLimitOptions.MaxCells), limits.MaxCells,
                            $"The sheet '{part}' holds more than {limits.MaxCells} cells");
                    _nextColumn = column + 1;
                    _maxColumn = Math.Max(_maxColumn, column);
                    break;
                case "si" or "is" when !xml.IsEmptyElement:
                    _stringDepth = xml.Depth;
                    _stringChars = 0;
                    break;
                case "mergeCell" or "col":
                    if (++_ranges > limits.MaxMergedRanges)
                        throw ImportLimitException.Of(nameof(ImportLimitOptions.MaxMergedRanges), limits.MaxMergedRanges,
                            $"The sheet '{part}' has more than {limits.MaxMergedRanges} merged ranges or column definitions");
                    break;
            }
        }

        /// <summary>The reader allocates and clears a row as wide as the widest column for every row it reaches.</summary>
        public void Finish()
        {
            if (_maxRow >= 0 && _maxColumn >= 0 && (_maxRow + 1) * (_maxColumn + 1) > limits.MaxCells)
                throw ImportLimitException.Of(nameof(ImportLimitOptions.MaxCells), limits.MaxCells,
                    $"The sheet '{part}' reaches {_maxRow + 1} rows by {_maxColumn + 1} columns");
        }

        /// <summary>A cell reference's column (0-based) as ExcelDataReader reads it: letters A-Z, then a row number.</summary>
        private static int? ColumnOf(string? reference)
        {
            if (string.IsNullOrEmpty(reference))
                return null;
            long column = 0;
            var position = 0;
            while (position < reference.Length && reference[position] is >= 'A' and <= 'Z')
            {
                column = column * 26 + (reference[position] - 'A' + 1);
                if (column > 1 << 24)
                    return int.MaxValue;
                position++;
            }
            if (position == 0 || position == reference.Length || !char.IsDigit(reference[position]))
                return null;
            return (int)column - 1;
        }
    }
}

/// <summary>An XLSX part declares a DTD: refused (400), never parsed.</summary>
public sealed class ImportDtdException(string part)
    : Exception(Tally.Api.Problems.Text.Say($"工作簿的部件“{part}”声明了 XML DTD，Tally 不读取它。请用电子表格程序另存该文件。",
        $"The workbook's part '{part}' declares an XML DTD, which Tally does not read. Save the file from a spreadsheet program."));

/// <summary>
/// A part of a workbook as a stream that counts what it unpacks and measures its markup byte by byte, so that no tag, text,
/// comment, CDATA section or processing instruction the XML reader would hold whole can be longer than a cell allows,
/// whatever the characters inside it; it also notes a DOCTYPE and a part in UTF-16 (which the byte scan cannot measure).
/// </summary>
public sealed class MarkupGuardStream : Stream
{
    private static readonly byte[] Doctype = "DOCTYPE"u8.ToArray();

    private enum Mode { Text, AfterOpen, Declaration, Instruction }

    private readonly Stream _inner;
    private readonly ImportLimitOptions _limits;
    private readonly long _maxBytes;
    private readonly long _maxToken;
    private readonly string _setting;
    private long _read;
    private long _token;
    private Mode _mode;
    private int _doctypeMatch;
    private byte _previous, _beforePrevious;

    public MarkupGuardStream(Stream inner, string name, bool sheet, ImportLimitOptions limits, long unpackedBefore)
    {
        _inner = inner;
        _limits = limits;
        Name = name;
        _setting = sheet ? nameof(ImportLimitOptions.MaxSheetBytes) : nameof(ImportLimitOptions.MaxPartBytes);
        _maxBytes = sheet ? limits.MaxSheetBytes : limits.MaxPartBytes;
        // A cell's text with every character written as a character reference, or a long tag.
        _maxToken = 10L * limits.MaxCellChars + 64 * 1024;
        Unpacked = unpackedBefore;
    }

    public string Name { get; }
    public long Unpacked { get; private set; }
    public bool SawDoctype { get; private set; }
    public bool Utf16 { get; private set; }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = _inner.Read(buffer);
        if (_read == 0 && read >= 2)
            Utf16 = buffer[0] == 0 || buffer[1] == 0 || (buffer[0] == 0xFF && buffer[1] == 0xFE) || (buffer[0] == 0xFE && buffer[1] == 0xFF);
        _read += read;
        Unpacked += read;
        if (_read > _maxBytes)
            throw ImportLimitException.Of(_setting, _maxBytes, $"The workbook's part '{Name}' unpacks to more than {_maxBytes} bytes");
        if (Unpacked > _limits.MaxUnpackedBytes)
            throw ImportLimitException.Of(nameof(ImportLimitOptions.MaxUnpackedBytes), _limits.MaxUnpackedBytes,
                $"The workbook unpacks to more than {_limits.MaxUnpackedBytes} bytes");
        foreach (var b in buffer[..read])
            Scan(b);
        return read;
    }

    private void Scan(byte b)
    {
        _token++;
        switch (_mode)
        {
            case Mode.Text when b == '<':
                // Text cannot hold '<', nor can an attribute value: a tag and the text after it end at the next one.
                _token = 1;
                _mode = Mode.AfterOpen;
                break;
            case Mode.AfterOpen:
                _mode = b switch { (byte)'!' => Mode.Declaration, (byte)'?' => Mode.Instruction, _ => Mode.Text };
                _doctypeMatch = 0;
                if (_mode == Mode.Text && b == '<')
                    _mode = Mode.AfterOpen;
                break;
            case Mode.Declaration:
                // A comment or CDATA section may hold '<': it ends only at "-->" or "]]>".
                if (_doctypeMatch >= 0 && _doctypeMatch < Doctype.Length)
                {
                    _doctypeMatch = b == Doctype[_doctypeMatch] ? _doctypeMatch + 1 : -1;
                    SawDoctype |= _doctypeMatch == Doctype.Length;
                }
                if (b == '>' && (SawDoctype || (_previous == _beforePrevious && _previous is (byte)'-' or (byte)']')))
                    _mode = Mode.Text;
                break;
            case Mode.Instruction when b == '>' && _previous == '?':
                _mode = Mode.Text;
                break;
        }
        _beforePrevious = _previous;
        _previous = b;
        if (_token > _maxToken)
            throw ImportLimitException.Of(nameof(ImportLimitOptions.MaxCellChars), _limits.MaxCellChars,
                $"The workbook's part '{Name}' holds a text or tag longer than a cell may be");
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _inner.Dispose();
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
