using Tally.Api.Features.Reports;
using Tally.Api.Ledger;

namespace Tally.Api.Tests.Features.Reports;

public sealed class ReportPhrasingTests
{
    [Theory]
    [InlineData(0, "0")]
    [InlineData(19, "19")]
    [InlineData(43, "43")]
    [InlineData(344, "344")]
    [InlineData(9_999, "9999")]
    [InlineData(10_000, "1万")]
    [InlineData(50_000, "5万")]
    [InlineData(52_348, "5.2万")]
    [InlineData(86_112, "8.6万")]
    [InlineData(10_999, "1万")]          // truncated: 1.0999万 is not rounded up to 1.1万
    [InlineData(86_950, "8.6万")]        // truncated, where rounding would say 8.7万
    [InlineData(99_999, "9.9万")]
    [InlineData(100_000, "10万")]
    [InlineData(1_234_567, "123.4万")]
    [InlineData(3_000_000_000, "300000万")]
    public void Exact_metrics_are_written_as_integers_below_ten_thousand_and_in_wan_from_it(long value, string expected) =>
        Assert.Equal(expected, ReportPhrasing.Display(value, approximate: false));

    [Theory]
    [InlineData(0, "0")]
    [InlineData(19, "19")]
    [InlineData(20, "20余")]
    [InlineData(40, "40余")]
    [InlineData(43, "40余")]
    [InlineData(49, "40余")]
    [InlineData(152, "150余")]
    [InlineData(9_999, "9990余")]
    [InlineData(10_000, "1万")]          // 万 takes precedence: it already reads as an approximation
    [InlineData(52_348, "5.2万")]
    public void Approximate_metrics_are_written_as_tens_and_yu_from_twenty(long value, string expected) =>
        Assert.Equal(expected, ReportPhrasing.Display(value, approximate: true));

    private static MetricDefinition Metric(string? template) =>
        new("x", 1, "清理涉黄涉赌网站", null, "家", null, [], template, false, true);

    [Fact]
    public void A_sentence_fills_the_template_with_the_display()
    {
        Assert.Equal("累计清理涉黄涉赌网站105家", ReportPhrasing.Sentence(Metric("累计清理涉黄涉赌网站{value}家"), "105"));
        Assert.Equal("举报涉津有害信息及敏感线索8.6万条",
            ReportPhrasing.Sentence(Metric("举报涉津有害信息及敏感线索{value}条"), ReportPhrasing.Display(86_112, false)));
    }

    [Fact]
    public void Without_a_template_the_sentence_is_name_figure_and_unit()
    {
        Assert.Equal("清理涉黄涉赌网站105家", ReportPhrasing.Sentence(Metric(null), "105"));
        Assert.Equal("清理涉黄涉赌网站5.2万家", ReportPhrasing.Sentence(Metric(""), "5.2万"));
    }
}
