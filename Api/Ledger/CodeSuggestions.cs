using System.Globalization;
using System.Text;
using Tally.Api.Problems;

namespace Tally.Api.Ledger;

/// <summary>Something a person may mean by a code or name: its code and the names it goes by (name, short name, English name).</summary>
public sealed record CodeCandidate(string Code, IReadOnlyList<string> Names)
{
    /// <summary>The name a suggestion shows beside the code (the first one given).</summary>
    public string? ShownName => Names.FirstOrDefault(n => !string.IsNullOrWhiteSpace(n));
}

/// <summary>
/// "Did you mean": the known codes nearest to an unknown one, for every message that reports an unknown metric, org unit
/// or campaign (and anything else with a code and names). A candidate matches when, after folding variant characters
/// (帐/账, traditional forms, full-width letters, case, spaces and quotes), the input is its code or one of its names,
/// a name contains the input or the input a name (a short name: 河东区), or the code or a name is one or two edits
/// away (Damerau-Levenshtein: an insertion, deletion, substitution or swap of neighbours each count one).
/// </summary>
public static class CodeSuggestions
{
    public const int MaxSuggestions = 3;

    // Variant forms people type for the characters of the catalog's names: 帐 for 账, and traditional forms.
    private static readonly Dictionary<char, char> Variants = new()
    {
        ['帐'] = '账', ['賬'] = '账', ['號'] = '号', ['網'] = '网', ['絡'] = '络', ['綫'] = '线', ['線'] = '线',
        ['專'] = '专', ['項'] = '项', ['舉'] = '举', ['報'] = '报', ['區'] = '区', ['辦'] = '办', ['資'] = '资',
        ['訊'] = '讯', ['體'] = '体', ['約'] = '约', ['談'] = '谈', ['處'] = '处', ['動'] = '动',
        ['關'] = '关', ['傳'] = '传', ['東'] = '东', ['無'] = '无', ['違'] = '违', ['規'] = '规',
        ['銷'] = '销', ['註'] = '注', ['騙'] = '骗', ['詐'] = '诈', ['權'] = '权', ['單'] = '单',
        ['發'] = '发', ['題'] = '题', ['與'] = '与', ['頁'] = '页', ['戶'] = '户', ['週'] = '周', ['門'] = '门',
    };

    /// <summary>At most <see cref="MaxSuggestions"/> candidates nearest to <paramref name="given"/>, best first (ties: candidate order).</summary>
    public static IReadOnlyList<CodeCandidate> Nearest(string? given, IEnumerable<CodeCandidate> candidates, int max = MaxSuggestions)
    {
        var input = Fold(given);
        if (input.Length == 0)
            return [];
        return candidates
            .Select((candidate, position) => (candidate, position, score: Score(input, candidate)))
            .Where(c => c.score is not null)
            .OrderBy(c => c.score).ThenBy(c => c.position)
            .Take(max)
            .Select(c => c.candidate)
            .ToList();
    }

    /// <summary>
    /// The message for an unknown code: <c>未知指标“x”，是否要找 a（名）？</c> / <c>Unknown metric 'x'; did you mean `a` (名)?</c>,
    /// or without suggestions <c>未知指标“x”。</c> / <c>Unknown metric 'x'.</c>
    /// </summary>
    public static string Unknown(string kindZh, string kindEn, string? given, IEnumerable<CodeCandidate> candidates)
    {
        var quoted = Codes.Quote(given) ?? "";
        var nearest = Nearest(given, candidates);
        if (nearest.Count == 0)
            return Text.Say($"未知{kindZh}“{quoted}”。", $"Unknown {kindEn} '{quoted}'.");
        var zh = string.Join("、", nearest.Select(c => c.ShownName is { } n && n != c.Code ? $"{c.Code}（{n}）" : c.Code));
        var en = string.Join(", ", nearest.Select(c => c.ShownName is { } n && n != c.Code ? $"`{c.Code}` ({n})" : $"`{c.Code}`"));
        return Text.Say($"未知{kindZh}“{quoted}”，是否要找 {zh}？", $"Unknown {kindEn} '{quoted}'; did you mean {en}?");
    }

    /// <summary>Lower rank is nearer; null: not near at all.</summary>
    private static int? Score(string input, CodeCandidate candidate)
    {
        var code = Fold(candidate.Code);
        var names = candidate.Names.Select(Fold).Where(n => n.Length > 0).ToList();
        if (input == code || names.Contains(input))
            return 0;
        // A part of a name (a short name, a name without its office's suffix), or a name with words added.
        if (input.Length >= 2 && names.Any(n => n.Contains(input, StringComparison.Ordinal) || (n.Length >= 2 && input.Contains(n, StringComparison.Ordinal))))
            return 1;
        var best = int.MaxValue;
        foreach (var text in names.Prepend(code))
        {
            // An edit must leave most of the text: "ab" is not one edit from "xb".
            var allowed = Math.Min(2, Math.Max(text.Length, input.Length) / 3);
            if (allowed == 0 || Math.Abs(text.Length - input.Length) > allowed)
                continue;
            var distance = Distance(input, text, allowed);
            if (distance <= allowed)
                best = Math.Min(best, distance);
        }
        return best == int.MaxValue ? null : 1 + best;
    }

    /// <summary>The text as matching compares it: NFKC (full-width letters), lower case, variants folded, no spaces or quotes.</summary>
    public static string Fold(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return "";
        var builder = new StringBuilder(text.Length);
        foreach (var c in text.Normalize(NormalizationForm.FormKC))
        {
            if (char.IsWhiteSpace(c) || c is '"' or '\'' or '“' or '”' or '‘' or '’' or '`' or '「' or '」')
                continue;
            var folded = char.ToLower(c, CultureInfo.InvariantCulture);
            builder.Append(Variants.TryGetValue(folded, out var simple) ? simple : folded);
        }
        return builder.ToString();
    }

    /// <summary>Optimal string alignment distance (Damerau-Levenshtein with adjacent swaps), stopping early past <paramref name="limit"/>.</summary>
    public static int Distance(string a, string b, int limit = int.MaxValue)
    {
        var rows = new int[3][];
        for (var r = 0; r < 3; r++)
            rows[r] = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
            rows[1][j] = j;
        int[] twoBack = rows[0], previous = rows[1], current = rows[2];
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            var rowBest = current[0];
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                var value = Math.Min(Math.Min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                    value = Math.Min(value, twoBack[j - 2] + 1);
                current[j] = value;
                rowBest = Math.Min(rowBest, value);
            }
            if (rowBest > limit)
                return rowBest;
            (twoBack, previous, current) = (previous, current, twoBack);
        }
        return previous[b.Length];
    }
}

/// <summary>The catalog's own "did you mean" messages: unknown metric, org unit and campaign codes, with their names.</summary>
public static class CatalogSuggestions
{
    public static IEnumerable<CodeCandidate> MetricCandidates(this CatalogSnapshot catalog) =>
        catalog.Metrics.Values.Where(m => m.Active).OrderBy(m => m.Position)
            .Select(m => new CodeCandidate(m.Code, m.NameEn is null ? [m.Name] : [m.Name, m.NameEn]));

    public static IEnumerable<CodeCandidate> OrgUnitCandidates(this CatalogSnapshot catalog) =>
        catalog.OrgUnits.Values.OrderBy(o => o.Position).Select(o => new CodeCandidate(o.Code, o.ShortName is null ? [o.Name] : [o.Name, o.ShortName]));

    public static IEnumerable<CodeCandidate> CampaignCandidates(this CatalogSnapshot catalog) =>
        catalog.Campaigns.Values.OrderBy(c => c.Position).Select(c => new CodeCandidate(c.Code, [c.Name]));

    public static string UnknownMetric(this CatalogSnapshot catalog, string? given) =>
        CodeSuggestions.Unknown("指标", "metric", given, catalog.MetricCandidates());

    public static string UnknownOrgUnit(this CatalogSnapshot catalog, string? given) =>
        CodeSuggestions.Unknown("填报单位", "org unit", given, catalog.OrgUnitCandidates());

    public static string UnknownCampaign(this CatalogSnapshot catalog, string? given) =>
        CodeSuggestions.Unknown("专项行动", "campaign", given, catalog.CampaignCandidates());
}
