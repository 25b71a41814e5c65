using System.Text.Json.Nodes;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tally.Api.Tests.Infrastructure;
using static Tally.Api.Tests.Features.Imports.HostileFiles;

namespace Tally.Api.Tests.Features.Imports;

/// <summary>Issue 17, findings 1, 2 and 11: what a file unpacks to is bounded, at the default limits of the shared app.</summary>
public sealed class ImportLimitTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Import_of_xlsx_with_a_cell_past_XFD_is_413_payload_too_large_naming_MaxColumns()
    {
        using var client = await app.ClientWithAsync(["events:write"]);

        await AssertLimitAsync(await PostAsync(client, CellAtZzzzzz(), Xlsx, "dryRun=true"), "MaxColumns");
        await AssertLimitAsync(await PostAsync(client, Workbook(w => Row(w, 2, ("ZZZZZ", "x"))), Xlsx), "MaxColumns");
        await AssertLimitAsync(await PostAsync(client, RowsReachingXfd(1000), Xlsx), "MaxColumns");
    }

    [Fact]
    public async Task Import_of_xlsx_whose_shared_string_or_its_runs_pass_MaxCellChars_is_413()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var runs = Workbook(w => w.Write("""<row r="1"><c r="A1" t="s"><v>0</v></c></row>"""), w =>
        {
            w.Write("""<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si>""");
            for (var i = 0; i < 3; i++)
                w.Write($"<r><t>{new string('b', 20_000)}</t></r>");
            w.Write("</si></sst>");
        });

        await AssertLimitAsync(await PostAsync(client, HugeSharedString(40_000), Xlsx), "MaxCellChars");
        await AssertLimitAsync(await PostAsync(client, HugeSharedString(20_000_000), Xlsx), "MaxCellChars");
        await AssertLimitAsync(await PostAsync(client, runs, Xlsx), "MaxCellChars");
    }

    [Fact]
    public async Task Import_of_xlsx_with_a_long_comment_or_cdata_section_holding_markup_is_413()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        // '<' every few characters: only a scan that knows where a comment or CDATA section ends can measure them.
        var inside = string.Concat(Enumerable.Repeat("<a>b</a> ", 200_000));
        var comment = Workbook(w => { Header(w); w.Write($"<!--{inside}-->"); });
        var cdata = Workbook(w => w.Write($"""<row r="1"><c r="A1" t="inlineStr"><is><t><![CDATA[{inside}]]></t></is></c></row>"""));

        await AssertLimitAsync(await PostAsync(client, comment, Xlsx), "MaxCellChars");
        await AssertLimitAsync(await PostAsync(client, cdata, Xlsx), "MaxCellChars");
    }

    [Fact]
    public async Task Import_of_an_ndjson_line_past_MaxLineBytes_is_413_before_the_rest_of_the_body_is_read()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var body = new GeneratedBodyStream("{\"metric\":\"notices.issued\",\"note\":\""u8.ToArray(), (byte)'x', 300L * 1024 * 1024);

        var response = await PostAsync(client, new StreamContent(body), "application/x-ndjson");

        await AssertLimitAsync(response, "MaxLineBytes");
        Assert.True(body.Sent < 32L * 1024 * 1024, $"{body.Sent} bytes were read");
    }

    [Fact]
    public async Task A_csv_record_spanning_lines_past_MaxLineBytes_fails_the_import_in_our_words_not_the_readers()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var note = string.Join('\n', Enumerable.Repeat(new string('n', 1000), 2100));
        var csv = $"metric,occurredOn,quantity,orgUnit,note\nnotices.issued,2024-01-02,1,hedong,\"{note}\"\n";

        var import = await ImportAsync(client, Encoding.UTF8.GetBytes(csv), "text/csv", "name=long-record");

        Assert.Equal("failed", import["status"]!.GetValue<string>());
        var detail = import["detail"]!.GetValue<string>();
        Assert.Contains("Tally:Limits:Imports:MaxLineBytes", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("MaxBufferSize", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_damaged_workbook_fails_the_import_in_our_words()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var workbook = Workbook(w => { Header(w); w.Write("<row r=\"2\"><c r=\"A2\"><v>1</v></c>"); });

        var import = await ImportAsync(client, workbook, Xlsx, "name=damaged");

        Assert.Equal("failed", import["status"]!.GetValue<string>());
        var detail = import["detail"]!.GetValue<string>();
        Assert.StartsWith("The file could not be read as", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("Line", detail, StringComparison.Ordinal);
        Assert.DoesNotContain("element", detail, StringComparison.Ordinal);
    }
}

/// <summary>Limits set low, so each is reached by a file of a few kilobytes; refusals are logged as such.</summary>
public sealed class TightLimitsApp : IAsyncLifetime
{
    private TallyApp? _app;

    public TallyApp App => _app ?? throw new InvalidOperationException("Not started.");
    public LogCapture Logs { get; } = new();

    public async ValueTask InitializeAsync()
    {
        _app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["Tally:Limits:Imports:MaxRows"] = "400",
            ["Tally:Limits:Imports:MaxCells"] = "1000",
            ["Tally:Limits:Imports:MaxSheetBytes"] = "200000",
            ["Tally:Limits:Imports:MaxZipEntries"] = "20",
            ["Logging:LogLevel:Tally"] = "Information",
            ["Logging:Console:LogLevel:Default"] = "None",
            ["Logging:Debug:LogLevel:Default"] = "None",
        });
        _app.Services.GetRequiredService<ILoggerFactory>().AddProvider(Logs);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
            await _app.DisposeAsync();
    }
}

public sealed class LogCapture : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Entries);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<(LogLevel, string, string)> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
            Func<TState, Exception?, string> formatter) => entries.Enqueue((logLevel, category, formatter(state, exception)));
    }
}

public sealed class TightImportLimitTests(TightLimitsApp tight) : IClassFixture<TightLimitsApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private TallyApp App => tight.App;

    [Fact]
    public async Task A_dry_run_logs_what_it_would_store_and_only_a_real_run_logs_rows_stored()
    {
        var unit = await App.OrgUnitAsync();
        using var client = await App.ClientWithAsync(["events:write"]);
        var file = System.Text.Encoding.UTF8.GetBytes($"metric,occurredOn,quantity,orgUnit\nnotices.issued,2024-02-02,1,{unit}\n");

        var dry = await ImportTests.ImportAsync(client, file, "dryRun=true&name=" + unit);
        var real = await ImportTests.ImportAsync(client, file, "name=" + unit);

        Assert.Equal("succeeded", dry["status"]!.GetValue<string>());
        Assert.Equal("succeeded", real["status"]!.GetValue<string>());
        string Logged(JsonNode import) => string.Join("\n", tight.Logs.Entries.Select(e => e.Message)
            .Where(m => m.Contains(import["id"]!.GetValue<string>(), StringComparison.Ordinal)));
        Assert.Contains("would store", Logged(dry), StringComparison.Ordinal);
        Assert.DoesNotContain("rows stored", Logged(dry), StringComparison.Ordinal);
        Assert.Contains("1 rows stored", Logged(real), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Import_with_rows_past_MaxRows_is_413_and_one_within_it_is_stored()
    {
        var unit = await App.OrgUnitAsync();
        using var client = await App.ClientWithAsync(["events:write"]);
        string Csv(int rows) => "metric,occurredOn,quantity,orgUnit\n"
            + string.Concat(Enumerable.Range(1, rows).Select(i => $"notices.issued,2024-01-0{1 + i % 9},1,{unit}\n"));

        await AssertLimitAsync(await PostAsync(client, Encoding.UTF8.GetBytes(Csv(400)), "text/csv", "name=rows"), "MaxRows");
        await AssertLimitAsync(await PostAsync(client, Workbook(w => { Header(w); Row(w, 401, ("A", "x")); }), Xlsx), "MaxRows");
        var stored = await ImportAsync(client, Encoding.UTF8.GetBytes(Csv(399)), "text/csv", "name=rows");

        Assert.Equal("succeeded", stored["status"]!.GetValue<string>());
        using var db = App.OpenDatabase();
        Assert.Equal(399, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public async Task Import_of_xlsx_reaching_more_rows_times_columns_than_MaxCells_is_413()
    {
        using var client = await App.ClientWithAsync(["events:write"]);
        // Few cells, but the reader would clear a 50-column row 30 times: 1500 cells.
        var wide = Workbook(w => { Header(w); Row(w, 30, ("AX", "x")); });

        await AssertLimitAsync(await PostAsync(client, wide, Xlsx), "MaxCells");
    }

    [Fact]
    public async Task Import_of_xlsx_whose_sheet_unpacks_past_MaxSheetBytes_is_413()
    {
        using var client = await App.ClientWithAsync(["events:write"]);
        var padded = Workbook(w =>
        {
            Header(w);
            w.Write("<row r=\"2\"><c r=\"A2\"><v>1</v></c></row>");
            for (var i = 0; i < 30_000; i++)
                w.Write("<!-- padding -->");
        });

        await AssertLimitAsync(await PostAsync(client, padded, Xlsx), "MaxSheetBytes");
    }

    [Fact]
    public async Task Import_of_xlsx_with_more_zip_entries_than_MaxZipEntries_is_413()
    {
        using var client = await App.ClientWithAsync(["events:write"]);
        using var stream = new MemoryStream();
        stream.Write(Workbook(Header));
        using (var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Update, leaveOpen: true))
        {
            for (var i = 0; i < 30; i++)
                zip.CreateEntry($"xl/media/empty{i}.bin");
        }

        await AssertLimitAsync(await PostAsync(client, stream.ToArray(), Xlsx), "MaxZipEntries");
    }

    [Fact]
    public async Task Import_of_xlsx_with_an_xml_dtd_is_400_and_logged_as_a_refusal_not_a_failure()
    {
        using var client = await App.ClientWithAsync(["events:write"]);
        var workbook = Workbook(_ => { });
        using var stream = new MemoryStream();
        stream.Write(workbook);
        using (var zip = new System.IO.Compression.ZipArchive(stream, System.IO.Compression.ZipArchiveMode.Update, leaveOpen: true))
        {
            zip.GetEntry("xl/worksheets/sheet1.xml")!.Delete();
            using var writer = new StreamWriter(zip.CreateEntry("xl/worksheets/sheet1.xml").Open());
            writer.Write("""<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&b;</t></is></c></row></sheetData></worksheet>""");
        }

        var response = await PostAsync(client, stream.ToArray(), Xlsx, "name=dtd");

        var problem = await response.AssertValidationAsync("body");
        Assert.Contains("DTD", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        var logged = tight.Logs.Entries.Where(e => e.Message.Contains("DTD", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(logged);
        Assert.All(logged, e => Assert.True(e.Level is LogLevel.Information or LogLevel.Warning, e.ToString()));
        Assert.DoesNotContain(tight.Logs.Entries, e => e.Level >= LogLevel.Error);
    }
}

/// <summary>Issue 17, findings 6 and 7: uploads are checked before their bodies are read; an import has a time budget.</summary>
public sealed class ImportUploadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StreamContent Declared(GeneratedBodyStream body)
    {
        var content = new StreamContent(body);
        content.Headers.ContentLength = body.Length;
        return content;
    }

    [Fact]
    public async Task An_upload_past_the_keys_spool_allowance_is_429_with_retry_after_before_its_body_is_read()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["Tally:Limits:Imports:MaxSpoolBytesPerKey"] = "100000",
        });
        using var client = await app.ClientWithAsync(["events:write"]);
        var declared = new GeneratedBodyStream("metric\n"u8.ToArray(), (byte)'\n', 4_000_000);
        var chunked = new GeneratedBodyStream("metric\n"u8.ToArray(), (byte)'\n', 4_000_000);

        var refused = await PostAsync(client, Declared(declared), "text/csv");
        var cut = await PostAsync(client, new StreamContent(chunked), "text/csv");

        await refused.AssertProblemAsync(429, "/problems/rate-limited");
        Assert.NotNull(refused.Headers.RetryAfter);
        // What the client pushed into the connection's buffer at most; the server read none of it.
        Assert.True(declared.Sent < 1_000_000, $"{declared.Sent} bytes were sent");
        await cut.AssertProblemAsync(429, "/problems/rate-limited");
        Assert.True(chunked.Sent < 1_000_000, $"{chunked.Sent} bytes were sent");
        // What the refused uploads counted was given back: the key may still upload.
        Assert.Equal(HttpStatusCode.Accepted, (await PostAsync(client, "metric\n"u8.ToArray(), "text/csv", "name=small")).StatusCode);
    }

    [Fact]
    public async Task Uploads_past_MaxConcurrentUploads_are_503_with_retry_after_before_their_bodies_are_read()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["Tally:Limits:Imports:MaxConcurrentUploads"] = "1",
        });
        using var client = await app.ClientWithAsync(["events:write"]);
        var release = new TaskCompletionSource();
        var slow = new GeneratedBodyStream("metric\n"u8.ToArray(), (byte)'\n', 200_000) { Pause = release, PauseAt = 100_000 };
        var first = PostAsync(client, Declared(slow), "text/csv", "name=slow");
        while (slow.Sent < 100_000)
            await Task.Delay(10, Ct);
        var waiting = new GeneratedBodyStream("metric\n"u8.ToArray(), (byte)'\n', 4_000_000);

        var refused = await PostAsync(client, Declared(waiting), "text/csv", "name=second");
        release.SetResult();
        var accepted = await first;

        await refused.AssertProblemAsync(503, "/problems/unavailable");
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.True(waiting.Sent < 1_000_000, $"{waiting.Sent} bytes were sent");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
    }

    [Fact]
    public async Task Spool_files_a_stop_left_are_removed_at_start_and_uploads_spool_beside_the_database()
    {
        var folder = Path.Combine(Path.GetTempPath(), "tally-tests", Guid.NewGuid().ToString("N"));
        var spool = Path.Combine(folder, "spool");
        Directory.CreateDirectory(spool);
        await File.WriteAllTextAsync(Path.Combine(spool, "imp_cut_off.upload"), "metric\n", Ct);
        await File.WriteAllTextAsync(Path.Combine(spool, "imp_cut_off.rows"), "", Ct);

        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Tally"] = $"Data Source={Path.Combine(folder, "tally.db")}",
            ["Tally:Limits:Imports:MaxConcurrentUploads"] = "1",
        });
        Assert.Empty(Directory.EnumerateFiles(spool));
        using var client = await app.ClientWithAsync(["events:write"]);
        var release = new TaskCompletionSource();
        var slow = new GeneratedBodyStream("metric\n"u8.ToArray(), (byte)'\n', 200_000) { Pause = release, PauseAt = 100_000 };
        var upload = PostAsync(client, Declared(slow), "text/csv", "name=beside");
        while (slow.Sent < 100_000)
            await Task.Delay(10, Ct);

        Assert.Single(Directory.EnumerateFiles(spool, "*.upload"));
        release.SetResult();
        Assert.Equal(HttpStatusCode.Accepted, (await upload).StatusCode);
    }

    [Fact]
    public async Task An_import_past_MaxRunTime_fails_naming_the_limit_and_stores_nothing()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["Tally:Limits:Imports:MaxRunTime"] = "00:00:00.001",
        });
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write"]);
        var csv = new StringBuilder("metric,occurredOn,quantity,orgUnit\n");
        for (var i = 0; i < 20_000; i++)
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"notices.issued,2024-02-0{1 + i % 9},1,{unit}\n");

        var import = await ImportAsync(client, Encoding.UTF8.GetBytes(csv.ToString()), "text/csv", "name=slow");

        Assert.Equal("failed", import["status"]!.GetValue<string>());
        Assert.Contains("Tally:Limits:Imports:MaxRunTime", import["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0, import["summary"]!["created"]!.GetValue<int>());
        using var db = app.OpenDatabase();
        Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
    }
}
