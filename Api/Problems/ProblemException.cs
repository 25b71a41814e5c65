using Microsoft.AspNetCore.Http;

namespace Tally.Api.Problems;

/// <summary>Thrown anywhere a request must end in a problem response; <see cref="ProblemMiddleware"/> writes it.</summary>
public sealed class ProblemException(Problem problem, TimeSpan? retryAfter = null) : Exception(problem.Detail)
{
    public Problem Problem { get; } = problem;
    public TimeSpan? RetryAfter { get; } = retryAfter;

    public static ProblemException Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemException Validation(IReadOnlyDictionary<string, string[]> errors) =>
        new(Problem.Validation(errors));

    public static ProblemException NotFound(string detail) =>
        new(Problem.Make(StatusCodes.Status404NotFound, ProblemTypes.NotFound, Text.Say("未找到", "Not found"), detail));

    public static ProblemException Forbidden(string detail) =>
        new(Problem.Make(StatusCodes.Status403Forbidden, ProblemTypes.Forbidden, Text.Say("无权操作", "Forbidden"), detail));

    public static ProblemException Conflict(string detail) =>
        new(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.Conflict, Text.Say("冲突", "Conflict"), detail));

    public static ProblemException Unavailable(string detail, TimeSpan retryAfter) =>
        new(Problem.Make(StatusCodes.Status503ServiceUnavailable, ProblemTypes.Unavailable, Text.Say("服务暂不可用", "Service unavailable"), detail), retryAfter);
}
