using System.ComponentModel;
using System.Text;
using FastEndpoints;
using FluentValidation;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Tally.Api.Http;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Imports;

public sealed class StartImportRequest
{
    [QueryParam]
    [Description("true: check every row and report what would happen; nothing is stored.")]
    public bool? DryRun { get; set; }

    [QueryParam]
    [Description("create (default): a row whose externalId this source already used with other content fails the import. "
        + "upsert: such a row supersedes the stored event.")]
    public string? Mode { get; set; }

    [QueryParam]
    [Description("Names the import; a row without externalId is known as <name>:<hash>:<n>: the first 16 hex digits of "
        + "SHA-256 over its metric, day, org unit, campaign and dimensions (codes), and the count of such rows before it in "
        + "the file. Inserting or moving rows changes no other row's id; a re-import never counts a row twice. Required "
        + "when any row has no externalId.")]
    public string? Name { get; set; }

    [QueryParam]
    [Description("XLSX only: the sheet to read (default: the first).")]
    public string? Sheet { get; set; }
}

public sealed class StartImportValidator : Validator<StartImportRequest>
{
    public const int MaxNameLength = 100;

    public StartImportValidator()
    {
        RuleFor(x => x.Mode).Must(m => m is null or "create" or "upsert").WithMessage(_ => Text.Say("mode 须为 create 或 upsert。", "mode must be create or upsert."));
        RuleFor(x => x.Name).Length(1, MaxNameLength).Must(n => n is null || !n.Any(char.IsControl))
            .WithMessage(_ => Text.Say($"name（导入名称）须为 1 到 {MaxNameLength} 个字符，且不含控制字符。", $"name must be 1 to {MaxNameLength} characters without control characters."));
        RuleFor(x => x.Sheet).Length(1, 200);
    }
}

[FileBody("The file to import.", ImportFiles.CsvType, ImportFiles.NdjsonType, ImportFiles.XlsxType)]
[ProblemResponse(413, "The file is over Tally:Limits:MaxImportBytes, or unpacks past a limit of Tally:Limits:Imports (named in detail).")]
[ProblemResponse(415, "The body is not text/csv, application/x-ndjson or an XLSX workbook.")]
[ProblemResponse(429, "This key's uploads and unfinished imports hold Tally:Limits:Imports:MaxSpoolBytesPerKey; retry after Retry-After.")]
[ProblemResponse(503, "Too many imports are waiting or uploads being received; retry after Retry-After.")]
[NotOrgScoped("rows are checked one by one against the key's subtree: a row outside it is a row error and fails the import")]
public sealed class StartImport(ImportWorker worker, IOptions<LimitOptions> limits, IOptions<ImportLimitOptions> importLimits,
    UploadGate gate, ImportSpoolFolder spool, ILogger<StartImport> logger) : Endpoint<StartImportRequest, ImportResponse>
{
    public override void Configure()
    {
        Post("/imports");
        Options(b => b.WithRequestTimeout(RequestLimits.LongRequests)
            .WithMetadata(new ImportBodyLimit()));
        // No Accepts metadata: routing would answer a wrong content type with 415 before the key is checked; the handler
        // checks it after authentication instead. [FileBody] puts the three file types into the OpenAPI document.
        Description(b => b.ClearDefaultAccepts()
            .ClearDefaultProduces(200)
            .Produces<ImportResponse>(202, "application/json"));
        Policies(ApiScopes.EventsWrite);
        Summary(s =>
        {
            s.Summary = "Import a CSV, NDJSON or XLSX file of events, in the background";
            s.Description = "The file is the body. Columns by header: the event field names, dim.<key>, or 指标 (metric code "
                + "or Chinese name), 日期, 数量, 填报单位, 专项行动, 外部编号, 备注. CSV in UTF-8 (with or without BOM) or GB18030. "
                + "Every row is checked like POST /events and against the key's org unit. All or nothing: any invalid row, or "
                + "(mode=create) any conflict, fails the import and stores nothing. 202 with Location: /api/v1/imports/{id}; "
                + "poll that for progress and the summary. Body limit: Tally:Limits:MaxImportBytes (1 GiB by default); what "
                + "the file unpacks to (columns, rows, cells, a cell's and a line's length, each XLSX part) is bounded by "
                + "Tally:Limits:Imports and checked while the upload is received: past a limit, 413 naming it.";
            s.Responses[202] = "Accepted: the import, queued.";
        });
    }

    public override async Task HandleAsync(StartImportRequest req, CancellationToken ct)
    {
        var format = ImportFiles.FormatOf(HttpContext.Request.ContentType)
            ?? throw new ProblemException(Problem.Make(StatusCodes.Status415UnsupportedMediaType, ProblemTypes.UnsupportedMediaType,
                Text.Say("不支持的内容类型", "Unsupported media type"), Text.Say($"请以 {ImportFiles.CsvType}、{ImportFiles.NdjsonType} 或 {ImportFiles.XlsxType} 发送文件。",
                    $"Send the file as {ImportFiles.CsvType}, {ImportFiles.NdjsonType} or {ImportFiles.XlsxType}.")));
        if (req.Sheet is not null && format != ImportFormat.Xlsx)
            throw ProblemException.Validation("sheet", Text.Say("sheet 仅适用于 XLSX 工作簿。", "sheet applies to XLSX workbooks only."));

        // Everything that needs no byte of the body is checked before the first is read.
        var caller = HttpContext.Caller();
        var maxBytes = limits.Value.MaxImportBytes;
        var declared = HttpContext.Request.ContentLength;
        var reserved = new Reservation(gate, caller.Id);
        string? spoolPath = null;
        try
        {
            if (declared > maxBytes)
                throw RequestBodyLimit.TooLarge(maxBytes);
            worker.EnsureRoom();
            WorkbookVerdict? verdict = null;
            var id = "imp_" + Guid.CreateVersion7().ToString("N");
            bool utf8;
            using (gate.Enter())
            {
                if (declared is { } length)
                    reserved.Add(length);
                Directory.CreateDirectory(spool.Path);
                spoolPath = spool.FileFor(id);
                (utf8, var total) = await SpoolAsync(spoolPath, maxBytes, format, reserved, ct);
                reserved.TrimTo(total);
                // Inside the slot: the workbook check is the upload's own work, capped with it.
                if (format == ImportFormat.Xlsx)
                    verdict = WorkbookGuard.Check(spoolPath, importLimits.Value, ct);
            }
            var job = new ImportJob(id, req.Name, format, req.DryRun ?? false, req.Mode == "upsert", req.Sheet, spoolPath, utf8,
                caller)
            {
                SpooledBytes = reserved.Bytes,
                Unreadable = verdict?.Unreadable,
            };
            await worker.AcceptAsync(job, ct);
            // The worker owns the file and its bytes now.
            reserved.Handover();
            spoolPath = null;
            HttpContext.Response.Headers.Location = $"/api/v1/imports/{id}";
            await Send.ResponseAsync(job.ToResponse(), StatusCodes.Status202Accepted, ct);
        }
        catch (Exception ex)
        {
            if (spoolPath is not null)
                File.Delete(spoolPath);
            reserved.Dispose();
            CloseConnection();
            switch (ex)
            {
                case ImportLimitException limit:
                    logger.LogInformation("Import refused: past {Setting}", limit.Setting);
                    throw limit.ToProblem();
                case ImportDtdException dtd:
                    logger.LogInformation("Import refused: the workbook declares a DTD");
                    throw ProblemException.Validation("body", dtd.Message);
            }
            throw;
        }
    }

    /// <summary>A refused body may be unread: an HTTP/1.1 client is told this connection ends here.</summary>
    private void CloseConnection()
    {
        if (!HttpProtocol.IsHttp11(HttpContext.Request.Protocol))
            return;
        HttpContext.Response.OnStarting(() =>
        {
            HttpContext.Response.Headers.Connection = "close";
            return Task.CompletedTask;
        });
    }

    /// <summary>
    /// Copies the body to disk in slices (memory stays flat whatever the size), counting it against the key's spool
    /// allowance and, for CSV and NDJSON, the lines against their limits as they come; tells whether it is valid UTF-8
    /// (a CSV that is not is read as GB18030) and how many bytes it has.
    /// </summary>
    private async Task<(bool Utf8, long Total)> SpoolAsync(string path, long maxBytes, ImportFormat format, Reservation reserved,
        CancellationToken ct)
    {
        var sizeLimit = HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
        var body = HttpContext.Request.Body;
        if (sizeLimit is { IsReadOnly: false })
            sizeLimit.MaxRequestBodySize = maxBytes;
        else
            body = new LimitedRequestStream(body, maxBytes);

        var lines = format == ImportFormat.Xlsx ? null : new LineGuard(importLimits.Value);
        var decoder = new UTF8Encoding(false, throwOnInvalidBytes: true).GetDecoder();
        var chars = new char[64 * 1024 + 8];
        var buffer = new byte[64 * 1024];
        var utf8 = true;
        long total = 0;
        await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024,
                         FileOptions.Asynchronous))
        {
            int read;
            while ((read = await body.ReadAsync(buffer, ct)) > 0)
            {
                total += read;
                if (total > reserved.Bytes)
                    reserved.Add(total - reserved.Bytes);
                lines?.Take(buffer.AsSpan(0, read));
                if (utf8)
                    utf8 = IsUtf8(decoder, buffer.AsSpan(0, read), chars, flush: false);
                await file.WriteAsync(buffer.AsMemory(0, read), ct);
            }
        }
        if (utf8)
            utf8 = IsUtf8(decoder, [], chars, flush: true);
        if (total == 0)
            throw ProblemException.Validation("body", Text.Say("请求体为空：请发送要导入的文件。", "The body is empty: send the file to import."));
        return (utf8, total);
    }

    private static bool IsUtf8(Decoder decoder, ReadOnlySpan<byte> bytes, char[] chars, bool flush)
    {
        try
        {
            decoder.GetChars(bytes, chars, flush);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }

    /// <summary>The bytes of one upload counted against its key's spool allowance; released unless handed to the worker.</summary>
    private sealed class Reservation(UploadGate gate, string keyId) : IDisposable
    {
        public long Bytes { get; private set; }

        public void Add(long bytes)
        {
            gate.Reserve(keyId, bytes);
            Bytes += bytes;
        }

        public void TrimTo(long bytes)
        {
            if (bytes >= Bytes)
                return;
            gate.Release(keyId, Bytes - bytes);
            Bytes = bytes;
        }

        public void Handover() => Bytes = 0;

        public void Dispose()
        {
            gate.Release(keyId, Bytes);
            Bytes = 0;
        }
    }
}

/// <summary>
/// The lines of a CSV or NDJSON upload, measured as its bytes arrive: one longer than Tally:Limits:Imports:MaxLineBytes,
/// or more lines than MaxRows, refuses the upload before the rest is read.
/// </summary>
public sealed class LineGuard(ImportLimitOptions limits)
{
    private long _line;
    private long _lines;

    public void Take(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var end = bytes.IndexOf((byte)'\n');
            _line += end < 0 ? bytes.Length : end;
            if (_line > limits.MaxLineBytes)
                throw ImportLimitException.Of(nameof(ImportLimitOptions.MaxLineBytes), limits.MaxLineBytes,
                    $"Line {_lines + 1} is longer than {limits.MaxLineBytes} bytes");
            // A byte of line _lines + 1 has come.
            if (_lines >= limits.MaxRows)
                throw ImportLimitException.Of(nameof(ImportLimitOptions.MaxRows), limits.MaxRows,
                    $"The file has more than {limits.MaxRows} lines");
            if (end < 0)
                return;
            _line = 0;
            _lines++;
            bytes = bytes[(end + 1)..];
        }
    }
}

/// <summary>
/// POST /imports takes files larger than Tally:Limits:MaxBodyBytes: the general limit stands aside for it and the
/// endpoint applies Tally:Limits:MaxImportBytes while it spools the body.
/// </summary>
public sealed class ImportBodyLimit : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata
{
    public long? MaxRequestBodySize => null;
}
