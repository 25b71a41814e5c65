using System.Globalization;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Reports;

/// <summary>How the annual report writes its figures and sentences (CONTRACT.md, Totals and the annual report).</summary>
public static class ReportPhrasing
{
    public const long TenThousand = 10_000;
    public const long ApproximateFrom = 20;

    /// <summary>
    /// The figure as the report writes it. From 10,000 on: in 万 with one decimal, trailing ".0" dropped; the decimal
    /// is truncated, never rounded up (86,950 is "8.6万"), so a published figure never claims more than was counted,
    /// in the same spirit as "40余" for 43. An approximate metric from 20 on: its tens followed by 余 (43 and 40 are
    /// "40余"). Anything else: the plain integer.
    /// </summary>
    public static string Display(long value, bool approximate)
    {
        if (value >= TenThousand)
        {
            var tenths = value / (TenThousand / 10);
            var (whole, decimalDigit) = (tenths / 10, tenths % 10);
            return decimalDigit == 0
                ? string.Create(CultureInfo.InvariantCulture, $"{whole}万")
                : string.Create(CultureInfo.InvariantCulture, $"{whole}.{decimalDigit}万");
        }
        if (approximate && value >= ApproximateFrom)
            return string.Create(CultureInfo.InvariantCulture, $"{value / 10 * 10}余");
        return value.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>The metric's reportTemplate with {value} filled in; without a template, name + figure + unit.</summary>
    public static string Sentence(MetricDefinition metric, string display) =>
        metric.ReportTemplate is { Length: > 0 } template
            ? template.Replace("{value}", display, StringComparison.Ordinal)
            : metric.Name + display + metric.Unit;

    /// <summary>The report as Chinese Markdown: a title, one sentence per figure, and a footer with as-of and digest.</summary>
    public static string Markdown(string orgUnitName, AnnualReportResponse report, TimeProvider clock)
    {
        var text = new System.Text.StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"# {orgUnitName}{report.Year}年度工作数据\n\n");
        if (report.Figures.All(f => f.Events == 0))
            text.Append("**该年度没有任何记录**：以下数字均为 0，请核对年份和单位。\n\n");
        var number = 0;
        foreach (var figure in report.Figures)
            text.Append(CultureInfo.InvariantCulture, $"{++number}. {figure.Sentence}。\n");
        text.Append(CultureInfo.InvariantCulture,
            $"\n---\n\n数据截至 {OfficeClock.ForPeople(clock, report.AsOf)}（{OfficeClock.ZoneName(clock)}），校验摘要 `{report.Digest}`。\n");
        return text.ToString();
    }

    /// <summary>The title's name for a report over the whole tree rather than one org unit.</summary>
    public const string WholeTreeName = "全部单位";
}
