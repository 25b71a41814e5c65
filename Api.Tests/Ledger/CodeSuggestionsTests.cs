using Tally.Api.Ledger;

namespace Tally.Api.Tests.Ledger;

/// <summary>"Did you mean": the nearest known codes for an unknown one, by variant characters, names and small edits.</summary>
public sealed class CodeSuggestionsTests
{
    private static readonly CodeCandidate[] Metrics =
    [
        new("outreach.sessions", ["网络举报主题宣传活动"]),
        new("websites.cleaned", ["清理涉黄涉赌网站"]),
        new("websites.deregistered", ["推动注销违规网站"]),
        new("accounts.interviewed", ["约谈自媒体账号"]),
        new("leads.handled", ["联动处置网站侵权、网络诈骗等问题线索"]),
    ];

    private static readonly CodeCandidate[] Units =
    [
        new("tianjin", ["天津市"]),
        new("hedong", ["河东区互联网信息办公室"]),
    ];

    private static string[] Codes(string given, IEnumerable<CodeCandidate> candidates) =>
        [.. CodeSuggestions.Nearest(given, candidates).Select(c => c.Code)];

    [Fact]
    public void The_variant_character_of_a_name_finds_its_metric() =>
        Assert.Equal(["accounts.interviewed"], Codes("约谈自媒体帐号", Metrics));

    [Fact]
    public void Traditional_forms_and_full_width_letters_fold_to_the_catalog_s_own() =>
        Assert.Equal(["accounts.interviewed"], Codes("ＡＣＣＯＵＮＴＳ.ＩＮＴＥＲＶＩＥＷＥＤ", Metrics).Concat(Codes("約談自媒體帳號", Metrics)).Distinct());

    [Fact]
    public void A_short_name_finds_the_unit_whose_name_it_starts() =>
        Assert.Equal(["hedong"], Codes("河东区", Units));

    [Theory]
    [InlineData("websites.claened")] // two neighbours swapped: one edit
    [InlineData("websites.clean")] // two letters short
    [InlineData("Websites.Cleaned")] // case
    public void A_code_one_or_two_edits_away_is_suggested_first(string given) =>
        Assert.Equal("websites.cleaned", Codes(given, Metrics)[0]);

    [Fact]
    public void At_most_three_are_suggested_nearest_first()
    {
        var suggested = Codes("网站", Metrics);
        Assert.Equal(3, suggested.Length);
        Assert.Equal(["websites.cleaned", "websites.deregistered", "leads.handled"], suggested);
    }

    [Theory]
    [InlineData("zz")]
    [InlineData("completely.different")]
    [InlineData("")]
    public void Nothing_near_suggests_nothing(string given) => Assert.Empty(Codes(given, Metrics));

    [Theory]
    [InlineData("abc", "abc", 0)]
    [InlineData("abc", "acb", 1)]
    [InlineData("abc", "abcd", 1)]
    [InlineData("kitten", "sitting", 3)]
    [InlineData("", "abc", 3)]
    public void Distance_is_the_optimal_string_alignment_distance(string a, string b, int expected) =>
        Assert.Equal(expected, CodeSuggestions.Distance(a, b));

    [Fact]
    public void The_message_names_the_codes_and_their_names_in_each_language()
    {
        var previous = (System.Globalization.CultureInfo.CurrentUICulture, System.Globalization.CultureInfo.CurrentCulture);
        try
        {
            System.Globalization.CultureInfo.CurrentUICulture = System.Globalization.CultureInfo.GetCultureInfo("zh-CN");
            Assert.Equal("未知指标“约谈自媒体帐号”，是否要找 accounts.interviewed（约谈自媒体账号）？",
                CodeSuggestions.Unknown("指标", "metric", "约谈自媒体帐号", Metrics));
            Assert.Equal("未知指标“zz”。", CodeSuggestions.Unknown("指标", "metric", "zz", Metrics));
            System.Globalization.CultureInfo.CurrentUICulture = System.Globalization.CultureInfo.GetCultureInfo("en");
            Assert.Equal("Unknown metric '约谈自媒体帐号'; did you mean `accounts.interviewed` (约谈自媒体账号)?",
                CodeSuggestions.Unknown("指标", "metric", "约谈自媒体帐号", Metrics));
        }
        finally
        {
            (System.Globalization.CultureInfo.CurrentUICulture, System.Globalization.CultureInfo.CurrentCulture) = previous;
        }
    }
}
