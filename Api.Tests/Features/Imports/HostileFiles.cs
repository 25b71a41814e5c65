using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Imports;

/// <summary>Import files built by the tests themselves, small on disk: workbooks written part by part, generated bodies.</summary>
public static class HostileFiles
{
    public const string Xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    private const string Main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
    private const string Rels = "http://schemas.openxmlformats.org/package/2006/relationships";

    /// <summary>A one-sheet workbook; <paramref name="sheet"/> writes the sheet's XML, <paramref name="sharedStrings"/> the SST.</summary>
    public static byte[] Workbook(Action<TextWriter> sheet, Action<TextWriter>? sharedStrings = null)
    {
        using var stream = new MemoryStream();
        using (var zip = new ZipArchive(stream, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Part(string name, Action<TextWriter> write)
            {
                using var writer = new StreamWriter(zip.CreateEntry(name, CompressionLevel.SmallestSize).Open(), new UTF8Encoding(false), 1 << 20);
                write(writer);
            }
            Part("[Content_Types].xml", w => w.Write("""<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"""));
            Part("_rels/.rels", w => w.Write($"""<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{Rels}"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"""));
            Part("xl/workbook.xml", w => w.Write($"""<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{Main}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="数据" sheetId="1" r:id="rId1"/></sheets></workbook>"""));
            Part("xl/_rels/workbook.xml.rels", w => w.Write($"""<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{Rels}"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"""));
            if (sharedStrings is not null)
                Part("xl/sharedStrings.xml", sharedStrings);
            Part("xl/worksheets/sheet1.xml", w =>
            {
                w.Write($"""<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{Main}"><sheetData>""");
                sheet(w);
                w.Write("</sheetData></worksheet>");
            });
        }
        return stream.ToArray();
    }

    /// <summary>A sheet row of inline strings at the given cell references.</summary>
    public static void Row(TextWriter w, int row, params (string Column, string Text)[] cells)
    {
        w.Write($"<row r=\"{row}\">");
        foreach (var (column, text) in cells)
            w.Write($"<c r=\"{column}{row}\" t=\"inlineStr\"><is><t>{text}</t></is></c>");
        w.Write("</row>");
    }

    /// <summary>The header row every valid import needs.</summary>
    public static void Header(TextWriter w) =>
        Row(w, 1, ("A", "metric"), ("B", "occurredOn"), ("C", "quantity"), ("D", "orgUnit"), ("E", "externalId"));

    /// <summary>One cell addressed past every column (ZZZZZZ1): the 1.9 KB file that drove a server past 8 GB.</summary>
    public static byte[] CellAtZzzzzz() => Workbook(w => Row(w, 1, ("ZZZZZZ", "metric")));

    /// <summary>100,000 rows, each with one cell at XFD (column 16,384), Excel's own last column.</summary>
    public static byte[] RowsReachingXfd(int rows = 100_000) => Workbook(w =>
    {
        Header(w);
        for (var row = 2; row <= rows; row++)
            w.Write($"<row r=\"{row}\"><c r=\"XFD{row}\"><v>1</v></c></row>");
    });

    /// <summary>One shared string of <paramref name="chars"/> characters, compressed about a thousand to one.</summary>
    public static byte[] HugeSharedString(long chars) => Workbook(
        w => w.Write("""<row r="1"><c r="A1" t="s"><v>0</v></c></row>"""),
        w =>
        {
            w.Write($"""<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{Main}" count="1" uniqueCount="1"><si><t>""");
            var block = new string('A', 1 << 20);
            for (var written = 0L; written < chars; written += block.Length)
                w.Write(block.AsSpan(0, (int)Math.Min(block.Length, chars - written)));
            w.Write("</t></si></sst>");
        });

    public static async Task<HttpResponseMessage> PostAsync(HttpClient client, HttpContent content, string contentType, string query = "")
    {
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return await client.PostAsync($"/api/v1/imports?{query}", content, TestContext.Current.CancellationToken);
    }

    public static Task<HttpResponseMessage> PostAsync(HttpClient client, byte[] file, string contentType, string query = "") =>
        PostAsync(client, new ByteArrayContent(file), contentType, query);

    /// <summary>Posts, expects 202, then polls the import until it ends.</summary>
    public static async Task<JsonNode> ImportAsync(HttpClient client, byte[] file, string contentType, string query = "")
    {
        var response = await PostAsync(client, file, contentType, query);
        var accepted = await response.ReadJsonAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, accepted.ToJsonString());
        var id = accepted["id"]!.GetValue<string>();
        while (true)
        {
            var import = await (await client.GetAsync($"/api/v1/imports/{id}", TestContext.Current.CancellationToken)).ReadJsonAsync();
            if (import["status"]!.GetValue<string>() is "succeeded" or "failed")
                return import;
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>Asserts 413 payload-too-large naming the Tally:Limits:Imports setting.</summary>
    public static async Task AssertLimitAsync(HttpResponseMessage response, string setting)
    {
        var problem = await response.AssertProblemAsync(413, "/problems/payload-too-large");
        Assert.Contains($"Tally:Limits:Imports:{setting}", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }
}

/// <summary>
/// A body generated as it is sent: <paramref name="prefix"/>, then <paramref name="fill"/> bytes up to
/// <paramref name="length"/>; <see cref="Sent"/> counts what the server has taken. Never held in memory.
/// </summary>
public sealed class GeneratedBodyStream(byte[] prefix, byte fill, long length) : Stream
{
    private long _position;

    public long Sent => Interlocked.Read(ref _position);

    /// <summary>When set, the body stops here until it is released (a client that is slow to send).</summary>
    public TaskCompletionSource? Pause { get; init; }
    public long PauseAt { get; init; } = long.MaxValue;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (Pause is not null && _position >= PauseAt)
            await Pause.Task.WaitAsync(cancellationToken);
        return Fill(buffer.Span);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (Pause is not null && _position >= PauseAt)
            Pause.Task.Wait();
        return Fill(buffer);
    }

    private int Fill(Span<byte> buffer)
    {
        var end = Pause is { Task.IsCompleted: false } ? Math.Min(length, PauseAt) : length;
        var count = (int)Math.Min(buffer.Length, end - _position);
        if (count <= 0)
            return 0;
        for (var i = 0; i < count; i++)
        {
            var at = _position + i;
            buffer[i] = at < prefix.Length ? prefix[at] : fill;
        }
        Interlocked.Add(ref _position, count);
        return count;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
