using System.Globalization;
using FastEndpoints;
using Microsoft.Extensions.Primitives;
using Tally.Api.Data;

namespace Tally.Api.Http;

/// <summary>
/// Days and instants in query strings and routes follow the same rules as in JSON bodies: a day is exactly
/// yyyy-MM-dd, an instant is ISO-8601 with Z or an offset (not a culture-dependent guess such as 03/01/2024).
/// </summary>
public static class QueryValues
{
    public static void Configure(BindingOptions binding)
    {
        binding.ValueParserFor<DateOnly>(v => ParseDay(v, nullable: false));
        binding.ValueParserFor<DateOnly?>(v => ParseDay(v, nullable: true));
        binding.ValueParserFor<DateTimeOffset>(v => ParseInstant(v, nullable: false));
        binding.ValueParserFor<DateTimeOffset?>(v => ParseInstant(v, nullable: true));
    }

    /// <summary>The ranges of the whole numbers a query or route takes, so a value that is not one can say what is.</summary>
    private static readonly Dictionary<string, (long From, long To)> Ranges = new(StringComparer.OrdinalIgnoreCase)
    {
        ["year"] = (2000, 9999),
        ["limit"] = (1, Paging.MaxLimit),
    };

    public static string FailureMessage(Type type, string name) => (Nullable.GetUnderlyingType(type) ?? type) switch
    {
        var t when t == typeof(DateOnly) => Problems.Text.Say($"{name} 须为日期：yyyy-MM-dd。", $"{name} must be a calendar day: yyyy-MM-dd."),
        var t when t == typeof(DateTimeOffset) => Problems.Text.Say($"{name} 须为带 Z 或时区偏移的时刻，例如 2025-01-06T09:30:00Z。",
            $"{name} must be an instant with Z or an offset, e.g. 2025-01-06T09:30:00Z."),
        var t when (t == typeof(int) || t == typeof(long)) && Ranges.TryGetValue(name, out var range) =>
            Problems.Text.Say($"{name} 须为 {range.From} 到 {range.To} 之间的整数。", $"{name} must be a whole number from {range.From} to {range.To}."),
        var t when t == typeof(int) || t == typeof(long) => Problems.Text.Say($"{name} 须为整数。", $"{name} must be a whole number."),
        _ => Problems.Text.Say($"{name} 的值无效。", $"The value of {name} is not valid."),
    };

    private static ParseResult ParseDay(StringValues values, bool nullable)
    {
        var text = values.ToString();
        if (nullable && text.Length == 0)
            return new ParseResult(true, null);
        return DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
            ? new ParseResult(true, day)
            : new ParseResult(false, null);
    }

    private static ParseResult ParseInstant(StringValues values, bool nullable)
    {
        var text = values.ToString();
        if (nullable && text.Length == 0)
            return new ParseResult(true, null);
        // An unencoded "+08:00" arrives as " 08:00"; a space has no other meaning in an instant.
        return Instant.TryParse(text.Replace(' ', '+'), out var instant)
            ? new ParseResult(true, instant)
            : new ParseResult(false, null);
    }
}
