using System.ComponentModel;
using FastEndpoints;
using FluentValidation;
using Microsoft.Net.Http.Headers;
using Tally.Api.Data;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Events;

public sealed class ExportEventsRequest : EventFilterQuery
{
    [Description("csv, ndjson or xlsx; without it the Accept header chooses (text/csv, application/x-ndjson or the XLSX type), else csv.")]
    public string? Format { get; set; }

    [Description("true: start the CSV with a UTF-8 byte-order mark, which Excel needs to show Chinese correctly.")]
    public string? Bom { get; set; }

    [Description("zh: CSV and XLSX column headers in Chinese (指标, 日期, 数量, 填报单位, ...), as POST /imports reads them, and "
        + "beside the codes the names a person reads: 指标名称 after 指标, 单位 after 数量, 填报单位名称, 专项行动名称, after each "
        + "dim.<key> its value names under the dimension's name (场所), and 状态 as 有效 or 已作废. An import reads the codes and "
        + "ignores the name columns, so the file re-imports as it is. en (default): the field names, codes only.")]
    public string? Headers { get; set; }
}

public sealed class ExportEventsValidator : Validator<ExportEventsRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public ExportEventsValidator()
        : this(RequestServices.Catalog)
    {
    }

    private ExportEventsValidator(CatalogCache catalog)
    {
        this.AddEventFilterRules(catalog);
        RuleFor(x => x.Format)
            .Must(f => f is null or "csv" or "ndjson" or "xlsx").WithMessage(_ => Text.Say("format 须为 csv、ndjson 或 xlsx。", "format must be csv, ndjson or xlsx."));
        RuleFor(x => x.Headers).Must(h => h is null or "en" or "zh").WithMessage(_ => Text.Say("headers 须为 en 或 zh。", "headers must be en or zh."));
        RuleFor(x => x.Bom).Must(b => b is null or "true" or "false").WithMessage(_ => Text.Say("bom 须为 true 或 false。", "bom must be true or false."));
    }
}

[ProblemResponse(406, "The Accept header names none of text/csv, application/x-ndjson and the XLSX type (and no format parameter was given).")]
[ExpensiveRead]
[OrgScoped(ScopedName.OrgUnit, ScopedIn.Query, "orgUnit")]
public sealed class ExportEvents(Database database, CatalogCache catalog, ILogger<ExportEvents> logger) : Endpoint<ExportEventsRequest>
{
    public override void Configure()
    {
        Get("/events/export");
        Options(b => b.WithRequestTimeout(RequestLimits.LongRequests));
        Policies(ApiScopes.EventsRead);
        Description(b => b.ClearDefaultProduces(200).Produces<string>(200, EventExport.CsvType, EventExport.NdjsonType, EventExport.XlsxType));
        Summary(s =>
        {
            s.Summary = "Export events as CSV, NDJSON or XLSX, streamed";
            s.Description = "The filters of GET /events, and the same events in the same order (by id), as one streamed "
                + "document of any size. CSV (RFC 4180, UTF-8, a header row, one dim.<key> column per dimension the catalog "
                + "declares; bom=true for Excel), NDJSON (one event per line, as GET /events/{id} shows it) or XLSX (one sheet "
                + "named events, the CSV's columns, quantities as numbers). headers=zh gives CSV and XLSX Chinese column headers "
                + "and, beside the codes, the catalog's names.";
        });
    }

    public override async Task HandleAsync(ExportEventsRequest req, CancellationToken ct)
    {
        var format = ChooseFormat(req.Format, HttpContext.Request);
        if (req.Headers is not null && format == ExportFormat.Ndjson)
            throw ProblemException.Validation("headers", Text.Say("headers 仅适用于 CSV 和 XLSX；NDJSON 使用字段名。", "headers applies to CSV and XLSX; NDJSON uses the field names."));
        if (req.Bom == "true")
        {
            format = format == ExportFormat.Csv
                ? ExportFormat.CsvWithBom
                : throw ProblemException.Validation("bom", Text.Say("bom 仅适用于 CSV；NDJSON 和 XLSX 从不带字节顺序标记。", "bom applies to CSV only; NDJSON and XLSX are never written with a byte-order mark."));
        }
        var filter = EventFilters.Resolve(req, HttpContext.Request.Query, HttpContext.Caller(), catalog.Current);

        await using var connection = await database.OpenAsync(ct);
        // One read transaction: the dimension columns and the rows come from the same snapshot of the database.
        // Deferred: a plain BEGIN would be BEGIN IMMEDIATE here and hold the write lock for the whole stream.
        await using var transaction = connection.BeginSnapshot();
        var snapshot = CatalogSnapshot.Load(connection, transaction);
        var dimensionKeys = EventFieldList.DimensionKeys(snapshot);
        var columns = EventFieldList.ExportColumns(dimensionKeys, req.Headers == "zh" ? snapshot : null);
        var (where, parameters) = filter.ToSql(connection, transaction, daySeekSpan: 31);
        await using var query = connection.CreateCommand();
        query.Transaction = transaction;
        query.CommandText = $"SELECT {EventRow.Columns} FROM events e WHERE {where} ORDER BY e.seq";
        foreach (var (name, value) in parameters)
            query.Bind("@" + name, value);
        await using var reader = await query.ExecuteReaderAsync(ct);

        var response = HttpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = format switch
        {
            ExportFormat.Ndjson => EventExport.NdjsonType + "; charset=utf-8",
            ExportFormat.Xlsx => EventExport.XlsxType,
            _ => EventExport.CsvType + "; charset=utf-8",
        };
        response.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment")
        {
            FileName = format switch { ExportFormat.Ndjson => "events.ndjson", ExportFormat.Xlsx => "events.xlsx", _ => "events.csv" },
        }.ToString();
        try
        {
            var write = format switch
            {
                ExportFormat.Xlsx => XlsxEventWriter.WriteAsync(response.Body, reader, dimensionKeys, columns, ct),
                ExportFormat.Ndjson => NdjsonEventWriter.WriteAsync(response.BodyWriter, reader, ct),
                _ => CsvEventWriter.WriteAsync(response.BodyWriter, reader, dimensionKeys, columns,
                    bom: format == ExportFormat.CsvWithBom, ct),
            };
            await write;
        }
        catch (Exception ex) when (ex is not OperationCanceledException && response.HasStarted)
        {
            // The status line is gone: cut the connection so the client sees a broken download, never a short one.
            logger.LogError(ex, "Event export failed mid-stream; the connection was aborted");
            HttpContext.Abort();
        }
    }

    private static readonly (string, ExportFormat)[] Offers =
    [
        (EventExport.CsvType, ExportFormat.Csv), (EventExport.NdjsonType, ExportFormat.Ndjson),
        ("application/ndjson", ExportFormat.Ndjson), (EventExport.XlsxType, ExportFormat.Xlsx),
    ];

    /// <summary>?format wins; else the Accept header (no header: CSV); 406 when Accept admits none of the three.</summary>
    private static ExportFormat ChooseFormat(string? format, HttpRequest request)
    {
        if (format is not null)
            return format switch { "ndjson" => ExportFormat.Ndjson, "xlsx" => ExportFormat.Xlsx, _ => ExportFormat.Csv };
        return ContentNegotiation.Choose(request, Offers)
            ?? throw new ProblemException(Problem.Make(StatusCodes.Status406NotAcceptable, ProblemTypes.NotAcceptable, Text.Say("无法提供所需格式", "Not acceptable"),
                Text.Say("导出格式为 text/csv、application/x-ndjson 或 XLSX 工作簿；请在 Accept 中指定其一，或使用 ?format=csv|ndjson|xlsx。",
                    "The export is written as text/csv, application/x-ndjson or an XLSX workbook; ask for one in Accept, or use ?format=csv|ndjson|xlsx.")));
    }
}
