using System.Globalization;
using FluentValidation.Resources;

namespace Tally.Api.Http;

/// <summary>
/// FluentValidation's built-in messages in Tally's words, Chinese or English by the request's culture. Rules carry
/// their own messages; this covers any rule that does not, so a Chinese reader never gets the library's English
/// fallback (its language manager falls back to English for a key its zh-CN pack lacks).
/// </summary>
public sealed class ValidatorLanguage : LanguageManager
{
    public override string GetString(string key, CultureInfo? culture = null)
    {
        var english = (culture ?? CultureInfo.CurrentUICulture).TwoLetterISOLanguageName == "en";
        string Say(string zh, string en) => english ? en : zh;
        return key switch
        {
            "NotNullValidator" or "NotEmptyValidator" => Say("{PropertyName} 为必填项。", "{PropertyName} is required."),
            "NullValidator" or "EmptyValidator" => Say("{PropertyName} 须为空。", "{PropertyName} must be empty."),
            "LengthValidator" => Say("{PropertyName} 须为 {MinLength} 到 {MaxLength} 个字符（现为 {TotalLength} 个）。",
                "{PropertyName} must be {MinLength} to {MaxLength} characters (it is {TotalLength})."),
            "MinimumLengthValidator" => Say("{PropertyName} 至少 {MinLength} 个字符（现为 {TotalLength} 个）。",
                "{PropertyName} must be at least {MinLength} characters (it is {TotalLength})."),
            "MaximumLengthValidator" => Say("{PropertyName} 至多 {MaxLength} 个字符（现为 {TotalLength} 个）。",
                "{PropertyName} must be at most {MaxLength} characters (it is {TotalLength})."),
            "ExactLengthValidator" => Say("{PropertyName} 须为 {MaxLength} 个字符（现为 {TotalLength} 个）。",
                "{PropertyName} must be {MaxLength} characters (it is {TotalLength})."),
            "InclusiveBetweenValidator" => Say("{PropertyName} 须在 {From} 到 {To} 之间（现为 {PropertyValue}）。",
                "{PropertyName} must be from {From} to {To} (it is {PropertyValue})."),
            "ExclusiveBetweenValidator" => Say("{PropertyName} 须大于 {From} 且小于 {To}（现为 {PropertyValue}）。",
                "{PropertyName} must be over {From} and under {To} (it is {PropertyValue})."),
            "GreaterThanOrEqualValidator" => Say("{PropertyName} 不得小于 {ComparisonValue}。",
                "{PropertyName} must be at least {ComparisonValue}."),
            "GreaterThanValidator" => Say("{PropertyName} 须大于 {ComparisonValue}。", "{PropertyName} must be over {ComparisonValue}."),
            "LessThanOrEqualValidator" => Say("{PropertyName} 不得大于 {ComparisonValue}。",
                "{PropertyName} must be at most {ComparisonValue}."),
            "LessThanValidator" => Say("{PropertyName} 须小于 {ComparisonValue}。", "{PropertyName} must be under {ComparisonValue}."),
            "EqualValidator" => Say("{PropertyName} 须等于 {ComparisonValue}。", "{PropertyName} must be {ComparisonValue}."),
            "NotEqualValidator" => Say("{PropertyName} 不得为 {ComparisonValue}。", "{PropertyName} must not be {ComparisonValue}."),
            "RegularExpressionValidator" => Say("{PropertyName} 的格式不正确。", "{PropertyName} is not in the expected form."),
            "EnumValidator" => Say("{PropertyName} 不是可选的值。", "{PropertyName} is not one of the allowed values."),
            _ => Say("{PropertyName} 的值无效。", "{PropertyName} is not valid."),
        };
    }
}
