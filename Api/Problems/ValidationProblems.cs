using System.Text.Json;
using System.Text.RegularExpressions;
using FluentValidation.Results;

namespace Tally.Api.Problems;

/// <summary>FastEndpoints' validation and binding failures, shaped as the contract's validation problem.</summary>
public static partial class ValidationProblems
{
    public const string BodyField = "body";

    /// <summary>The most fields one validation problem lists (as imports list their first 1000 errors): the body stays bounded.</summary>
    public const int MaxFields = 1000;

    public static Problem From(IEnumerable<ValidationFailure> failures, int status)
    {
        var errors = failures
            .GroupBy(f => string.IsNullOrEmpty(f.PropertyName) ? BodyField : f.PropertyName, StringComparer.Ordinal)
            .Take(MaxFields)
            .ToDictionary(g => g.Key, g => g.Select(f => f.ErrorMessage).Distinct().Take(10).ToArray(), StringComparer.Ordinal);
        var problem = Problem.Validation(errors);
        return status == problem.Status ? problem : Problem.Make(status, problem.Type, problem.Title, problem.Detail, errors);
    }

    /// <summary>A JSON reading error as a failure keyed by its field; never the parser's own text (it names internal types).</summary>
    public static ValidationFailure FromJsonException(JsonException ex)
    {
        var field = FieldOf(ex.Path);
        var message = ex.Message ?? "";
        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal))
        {
            var name = UnmappedName().Match(message) is { Success: true } m ? m.Groups[1].Value : null;
            if (name is not null)
                field = field == BodyField ? name : field.EndsWith("." + name, StringComparison.Ordinal) || field == name ? field : field + "." + name;
            return new ValidationFailure(field, Text.Say("未知字段：本接口不接受该字段（请检查拼写）。",
                "Unknown field: this API does not accept it (check the spelling)."));
        }
        if (message.Contains("Duplicate", StringComparison.OrdinalIgnoreCase))
            return new ValidationFailure(field, Text.Say("该字段重复出现。", "The field is given more than once."));
        (string Zh, string En)? expected = ExpectedType().Match(message) is { Success: true } t ? Describe(t.Groups[1].Value) : null;
        if (expected is not null)
            return new ValidationFailure(field, Text.Say($"该值不是{expected.Value.Zh}。", $"The value is not {expected.Value.En}."));
        return new ValidationFailure(field == "" ? BodyField : field,
            field == BodyField ? Text.Say("请求体不是有效的 JSON。", "The request body is not valid JSON.")
                : Text.Say("该字段的值不是有效的 JSON。", "The value is not valid JSON for this field."));
    }

    private static string FieldOf(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
            return BodyField;
        var field = path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
        // STJ writes odd names as ['name']; the contract's paths use dots.
        return BracketName().Replace(field, m => "." + m.Groups[1].Value).TrimStart('.');
    }

    private static (string Zh, string En) Describe(string clrType) => clrType switch
    {
        // A number too large for the field is refused here too: the field's own rule then names its range.
        _ when clrType.Contains("Int64", StringComparison.Ordinal) || clrType.Contains("Int32", StringComparison.Ordinal)
            => ("可用范围内的整数", "a whole number in the field's range"),
        _ when clrType.Contains("DateOnly", StringComparison.Ordinal) => ("日期（yyyy-MM-dd）", "a calendar day (yyyy-MM-dd)"),
        _ when clrType.Contains("DateTimeOffset", StringComparison.Ordinal)
            => ("时刻（ISO-8601，带 Z 或时区偏移）", "an instant (ISO-8601 with Z or an offset)"),
        _ when clrType.Contains("Boolean", StringComparison.Ordinal) => ("true 或 false", "true or false"),
        _ when clrType.Contains("Dictionary", StringComparison.Ordinal) => ("字符串对象", "an object of strings"),
        _ when clrType.Contains("List", StringComparison.Ordinal) || clrType.EndsWith("[]", StringComparison.Ordinal) => ("数组", "an array"),
        _ when clrType.Contains("String", StringComparison.Ordinal) => ("字符串", "a string"),
        _ => ("预期的类型", "of the expected type"),
    };

    [GeneratedRegex(@"The JSON property '([^']*)'")]
    private static partial Regex UnmappedName();

    [GeneratedRegex(@"could not be converted to ([^.\s]+(?:\.[^.\s]+)*)")]
    private static partial Regex ExpectedType();

    [GeneratedRegex(@"\['([^']*)'\]")]
    private static partial Regex BracketName();
}
