using System.Globalization;

namespace Tally.Api.Problems;

/// <summary>
/// The language a person reads a message in. Every message is written at the place that raises it, in Chinese and in
/// English side by side (<c>Text.Say("未知指标", "Unknown metric")</c>), and the request's culture picks one: English
/// when it prefers <c>en</c>, Chinese otherwise (the server's <c>Tally:Language</c>, default <c>zh-CN</c>).
/// </summary>
public static class Text
{
    public static bool IsEnglish => CultureInfo.CurrentUICulture.TwoLetterISOLanguageName == "en";

    public static string Say(string zh, string en) => IsEnglish ? en : zh;
}
