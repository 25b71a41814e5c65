using System.Text.Json.Serialization;

namespace Tally.Api.Problems;

/// <summary>The one error body of the API: RFC 9457 problem details with the contract's problem types.</summary>
public sealed class Problem
{
    public required string Type { get; init; }
    public required string Title { get; init; }
    public required int Status { get; init; }
    public required string Detail { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string[]>? Errors { get; init; }

    public static Problem Make(int status, string type, string title, string detail,
        IReadOnlyDictionary<string, string[]>? errors = null) =>
        new() { Status = status, Type = type, Title = title, Detail = detail, Errors = errors };

    public static Problem Validation(IReadOnlyDictionary<string, string[]> errors) =>
        Make(StatusCodes.Status400BadRequest, ProblemTypes.Validation, Text.Say("请求校验未通过", "Validation failed"),
            errors.Count == 1
                ? $"{errors.Keys.First()}: {errors.Values.First().FirstOrDefault()}"
                : Text.Say($"有 {errors.Count} 个字段不符合要求，详见 errors。", $"{errors.Count} fields are invalid; see errors."),
            errors);
}

public static class ProblemTypes
{
    public const string Validation = "/problems/validation";
    public const string Unauthorized = "/problems/unauthorized";
    public const string Forbidden = "/problems/forbidden";
    public const string NotFound = "/problems/not-found";
    public const string Conflict = "/problems/conflict";
    public const string IdempotencyConflict = "/problems/idempotency-conflict";
    public const string PeriodLocked = "/problems/period-locked";
    public const string PeriodSubmitted = "/problems/period-submitted";
    public const string AlreadyVoided = "/problems/already-voided";
    public const string PayloadTooLarge = "/problems/payload-too-large";
    public const string RateLimited = "/problems/rate-limited";
    public const string Unavailable = "/problems/unavailable";
    public const string Timeout = "/problems/timeout";
    public const string MethodNotAllowed = "/problems/method-not-allowed";
    public const string UnsupportedMediaType = "/problems/unsupported-media-type";
    public const string NotAcceptable = "/problems/not-acceptable";
    public const string UriTooLong = "/problems/uri-too-long";
    public const string HeadersTooLarge = "/problems/headers-too-large";
    public const string Internal = "/problems/internal";
}
