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
    [Description("Names the import; a row without externalId is known as <name>:<row number>, so a re-import never counts "
        + "it twice. Required when any row has no externalId.")]
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
        RuleFor(x => x.Mode).Must(m => m is null or "create" or "upsert").WithMessage("mode must be create or upsert.");
        RuleFor(x => x.Name).Length(1, MaxNameLength).Must(n => n is null || !n.Any(char.IsControl))
            .WithMessage($"name must be 1 to {MaxNameLength} characters without control characters.");
        RuleFor(x => x.Sheet).Length(1, 200);
    }
}

[FileBody("The file to import.", ImportFiles.CsvType, ImportFiles.NdjsonType, ImportFiles.XlsxType)]
[ProblemResponse(415, "The body is not text/csv, application/x-ndjson or an XLSX workbook.")]
[ProblemResponse(503, "Too many imports are waiting; retry after Retry-After.")]
[NotOrgScoped("rows are checked one by one against the key's subtree: a row outside it is a row error and fails the import")]
public sealed class StartImport(ImportWorker worker, IOptions<LimitOptions> limits) : Endpoint<StartImportRequest, ImportResponse>
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
                + "poll that for progress and the summary. Body limit: Tally:Limits:MaxImportBytes (1 GiB by default).";
            s.Responses[202] = "Accepted: the import, queued.";
        });
    }

    public override async Task HandleAsync(StartImportRequest req, CancellationToken ct)
    {
        var format = ImportFiles.FormatOf(HttpContext.Request.ContentType)
            ?? throw new ProblemException(Problem.Make(StatusCodes.Status415UnsupportedMediaType, ProblemTypes.UnsupportedMediaType,
                "Unsupported media type", $"Send the file as {ImportFiles.CsvType}, {ImportFiles.NdjsonType} or {ImportFiles.XlsxType}."));
        if (req.Sheet is not null && format != ImportFormat.Xlsx)
            throw ProblemException.Validation("sheet", "sheet applies to XLSX workbooks only.");

        var id = "imp_" + Guid.CreateVersion7().ToString("N");
        Directory.CreateDirectory(ImportWorker.SpoolFolder);
        var spoolPath = Path.Combine(ImportWorker.SpoolFolder, id + ".upload");
        bool utf8;
        try
        {
            utf8 = await SpoolAsync(spoolPath, limits.Value.MaxImportBytes, ct);
        }
        catch
        {
            File.Delete(spoolPath);
            throw;
        }
        var job = new ImportJob(id, req.Name, format, req.DryRun ?? false, req.Mode == "upsert", req.Sheet, spoolPath, utf8,
            HttpContext.Caller());
        try
        {
            await worker.AcceptAsync(job, ct);
        }
        catch
        {
            File.Delete(spoolPath);
            throw;
        }
        HttpContext.Response.Headers.Location = $"/api/v1/imports/{id}";
        await Send.ResponseAsync(job.ToResponse(), StatusCodes.Status202Accepted, ct);
    }

    /// <summary>
    /// Copies the body to disk in slices (memory stays flat whatever the size) and tells whether it is valid UTF-8;
    /// a CSV that is not is read as GB18030.
    /// </summary>
    private async Task<bool> SpoolAsync(string path, long maxBytes, CancellationToken ct)
    {
        var sizeLimit = HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
        var body = HttpContext.Request.Body;
        if (sizeLimit is { IsReadOnly: false })
            sizeLimit.MaxRequestBodySize = maxBytes;
        else
            body = new LimitedRequestStream(body, maxBytes);
        if (HttpContext.Request.ContentLength > maxBytes)
            throw RequestBodyLimit.TooLarge(maxBytes);

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
                if (utf8)
                    utf8 = IsUtf8(decoder, buffer.AsSpan(0, read), chars, flush: false);
                await file.WriteAsync(buffer.AsMemory(0, read), ct);
            }
        }
        if (utf8)
            utf8 = IsUtf8(decoder, [], chars, flush: true);
        if (total == 0)
            throw ProblemException.Validation("body", "The body is empty: send the file to import.");
        return utf8;
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
}

/// <summary>
/// POST /imports takes files larger than Tally:Limits:MaxBodyBytes: the general limit stands aside for it and the
/// endpoint applies Tally:Limits:MaxImportBytes while it spools the body.
/// </summary>
public sealed class ImportBodyLimit : Microsoft.AspNetCore.Http.Metadata.IRequestSizeLimitMetadata
{
    public long? MaxRequestBodySize => null;
}
