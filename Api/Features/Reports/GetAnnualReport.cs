using System.ComponentModel;
using FastEndpoints;
using FluentValidation;
using Microsoft.Net.Http.Headers;
using Tally.Api.Data;
using Tally.Api.Features.Totals;
using Tally.Api.Http;
using Tally.Api.Ledger;
using Tally.Api.OpenApi;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Features.Reports;

public sealed class GetAnnualReportRequest
{
    public int Year { get; set; }

    [Description("An org unit code: that unit and all its descendants. Default: the key's own org unit, or the whole tree.")]
    public string? OrgUnit { get; set; }

    [Description("An instant (not in the future): the report exactly as the ledger and the catalog stood then (the "
        + "metrics active then, their names and templates then). Default: now; the answer's asOf reproduces the same "
        + "figures, sentences and digest later, whatever is corrected or changed in the catalog meanwhile.")]
    public DateTimeOffset? AsOf { get; set; }

    [Description("true: only events in (unit, metric, period) cells of approved reporting submissions count (with asOf: "
        + "approved by then). Default false.")]
    public bool? ApprovedOnly { get; set; }

    [Description("sha256 (default) or setsum256: the form of digest. sha256 is the sorted digest (every counted event "
        + "is read to compute it); setsum256 is the kept digest, as in keptDigest, and with asOf the report is then "
        + "answered from kept sums without reading the counted events.")]
    public string? DigestForm { get; set; }

    [Description("json (default) or markdown: the report as Chinese Markdown text. Accept: text/markdown does the same.")]
    public string? Format { get; set; }
}

public sealed class GetAnnualReportValidator : Validator<GetAnnualReportRequest>
{
    /// <summary>Built once per process by FastEndpoints: its services are the request's (<see cref="RequestServices"/>).</summary>
    public GetAnnualReportValidator()
        : this(RequestServices.Catalog, RequestServices.Clock)
    {
    }

    private GetAnnualReportValidator(CatalogCache catalog, TimeProvider clock)
    {
        RuleFor(x => x.Year).InclusiveBetween(Period.FirstYear, Period.LastYear)
            .WithMessage(_ => Text.Say($"year 须在 {Period.FirstYear} 到 {Period.LastYear} 之间。", $"year must be from {Period.FirstYear} to {Period.LastYear}."));
        RuleFor(x => x.OrgUnit).Must(o => o is null || catalog.Current.OrgUnits.ContainsKey(o))
            .WithMessage(x => catalog.Current.UnknownOrgUnit(x.OrgUnit));
        RuleFor(x => x.AsOf).Must(a => a is null || a <= clock.GetUtcNow()).WithMessage(_ => Period.FutureAsOfMessage);
        RuleFor(x => x.DigestForm).Must(f => f is null or ReportDigestForms.Sorted or ReportDigestForms.Kept)
            .WithMessage(_ => Text.Say("digestForm 须为 sha256 或 setsum256。", "digestForm must be sha256 or setsum256."));
        RuleFor(x => x.Format).Must(f => f is null or "json" or "markdown").WithMessage(_ => Text.Say("format 须为 json 或 markdown。", "format must be json or markdown."));
    }
}

public sealed class AnnualReportResponse
{
    public required int Year { get; init; }

    /// <summary>The org unit reported on (with its descendants); null for the whole tree.</summary>
    public required string? OrgUnit { get; init; }

    public required DateTimeOffset AsOf { get; init; }
    public required DateTimeOffset GeneratedAt { get; init; }
    public required IReadOnlyList<ReportFigure> Figures { get; init; }
    /// <summary>The digest in the form <see cref="DigestForm"/> names: "sha256:…" (default) or "setsum256:…".</summary>
    public required string Digest { get; init; }

    /// <summary>sha256 (digest is the sorted digest of the contract) or setsum256 (digest is the kept digest).</summary>
    public required string DigestForm { get; init; }

    /// <summary>
    /// The kept digest of the same counted events, always given: "setsum256:" and the lowercase hex (64 digits,
    /// big-endian) of the sum modulo 2^256 of SHA-256(id TAB quantity LF) over them, each hash read as a big-endian
    /// unsigned integer. Order-free, so it is kept in the as-of rollups and never needs the events read.
    /// </summary>
    public required string KeptDigest { get; init; }

    /// <summary>
    /// An extension of the contract: set when no event at all counts for the year (a mistyped year, or a unit with
    /// nothing recorded), so a report of zeros never passes for a real one; null otherwise.
    /// </summary>
    public string? Warning { get; init; }
}

public sealed class ReportFigure
{
    public required string Metric { get; init; }
    public required string Name { get; init; }
    public required string Unit { get; init; }
    public required long Value { get; init; }
    public required string Display { get; init; }
    public required string Sentence { get; init; }
    public required long Events { get; init; }
}

[ProducesText(200, MarkdownType)]
[ExpensiveRead(WhenQuery = "asOf")]
[OrgScoped(ScopedName.OrgUnit, ScopedIn.Query, "orgUnit")]
public sealed class GetAnnualReport(CountedEvents counter, CatalogCache catalog, LedgerWriter writer, Database database,
    TimeProvider clock)
    : Endpoint<GetAnnualReportRequest, AnnualReportResponse>
{
    public const string MarkdownType = "text/markdown";

    public override void Configure()
    {
        Get("/reports/annual/{year}");
        Policies(ApiScopes.TotalsRead);
        Summary(s =>
        {
            s.Summary = "The annual report: every active metric's figure and sentence for a year";
            s.Description = "Figures come in catalog order, one per active metric (value 0 when it has no events), "
                + "computed from the raw ledger as of asOf (default: now). display writes a figure as the report does: "
                + "from 10,000 on in 万 with one decimal, truncated, trailing .0 dropped (52,348 is 5.2万, 86,112 is "
                + "8.6万, 50,000 is 5万); an approximate metric from 20 on as its tens and 余 (43 is 40余); else the "
                + "integer. sentence is the metric's reportTemplate with {value} replaced by display. digest is "
                + "\"sha256:\" and the lowercase hex SHA-256 of, for each counted event in ascending (ordinal) order of "
                + "id, the UTF-8 bytes of: id, a tab, quantity in decimal digits, a line feed; the same asOf gives the "
                + "same digest, and any change to the counted events gives another. keptDigest is \"setsum256:\" and the "
                + "lowercase hex (64 digits, big-endian) of the sum modulo 2^256 of those same lines' SHA-256 each, read as "
                + "a big-endian unsigned integer: order-free, kept beside the sums. digestForm=setsum256 puts it in digest "
                + "as well (digestForm says which) and, with asOf, answers from kept sums without reading the counted events. With Accept: text/markdown or "
                + "format=markdown: the report as Chinese Markdown, one sentence per figure, as-of and digest in a footer.";
        });
    }

    public override async Task HandleAsync(GetAnnualReportRequest req, CancellationToken ct)
    {
        var current = catalog.Current;
        var orgUnit = OrgScope.Effective(HttpContext.Caller(), req.OrgUnit, current);
        var generatedAt = clock.GetUtcNow();
        var asOf = req.AsOf ?? generatedAt;
        await writer.SettleAsync(asOf, ct);

        // A report of an earlier instant uses the catalog as it stood then: what was active, its names and templates.
        var metrics = req.AsOf is null
            ? current.Metrics.Values.Where(m => m.Active).OrderBy(m => m.Position).ToList()
            : await MetricsAsOf.ActiveAsync(database, asOf, ct);
        var approvedOnly = req.ApprovedOnly == true;
        var keptOnly = req.DigestForm == ReportDigestForms.Kept;
        var counted = approvedOnly
            ? await counter.CountApprovedAsync(req.Year, orgUnit, asOf, metrics.Select(m => m.Code).ToList(), ct)
            : req.AsOf is not null && keptOnly
            ? await counter.CountKeptAsync(req.Year, orgUnit, asOf, metrics.Select(m => m.Code).ToList(), ct)
            : req.AsOf is null
            ? await counter.CountAsync(req.Year, orgUnit, asOf, ct)
            : await counter.CountAtAsync(req.Year, orgUnit, asOf, metrics.Select(m => m.Code).ToList(), ct);

        var report = new AnnualReportResponse
        {
            Year = req.Year, OrgUnit = orgUnit, AsOf = asOf, GeneratedAt = generatedAt,
            Digest = keptOnly ? counted.KeptDigest : counted.Digest!, KeptDigest = counted.KeptDigest,
            DigestForm = keptOnly ? ReportDigestForms.Kept : ReportDigestForms.Sorted,
            Figures = metrics.Select(m =>
            {
                var (value, events) = counted.Sums.GetValueOrDefault(m.Code);
                var display = ReportPhrasing.Display(value, m.Approximate);
                return new ReportFigure
                {
                    Metric = m.Code, Name = m.Name, Unit = m.Unit, Value = value, Display = display,
                    Sentence = ReportPhrasing.Sentence(m, display), Events = events,
                };
            }).ToList(),
            Warning = counted.Sums.Values.Any(s => s.Events > 0) ? null
                : Text.Say($"{req.Year}年没有任何记录：以下数字均为 0，请核对年份和单位。",
                    $"Nothing was recorded for {req.Year}: every figure is 0. Check the year and the org unit."),
        };

        HttpContext.Response.Headers.Vary = HeaderNames.Accept;
        if (WantsMarkdown(req.Format, HttpContext.Request))
        {
            var name = orgUnit is null ? ReportPhrasing.WholeTreeName : current.OrgUnits[orgUnit].DisplayName;
            await Send.StringAsync(ReportPhrasing.Markdown(name, report, clock), 200, MarkdownType + "; charset=utf-8", ct);
            return;
        }
        await Send.OkAsync(report, ct);
    }

    private static readonly (string, bool Markdown)[] Offers = [("application/json", false), (MarkdownType, true)];

    /// <summary>format=markdown, or an Accept header that prefers text/markdown to JSON (anything else: JSON).</summary>
    private static bool WantsMarkdown(string? format, HttpRequest request) =>
        format is not null ? format == "markdown" : ContentNegotiation.Choose(request, Offers) ?? false;
}

/// <summary>The names of the report's digest forms (digestForm).</summary>
public static class ReportDigestForms
{
    public const string Sorted = "sha256";
    public const string Kept = "setsum256";
}
