using System.Text.RegularExpressions;

namespace Tally.Api.Http;

/// <summary>
/// Gives every request a correlation id: the caller's <c>X-Request-Id</c> when it is a sane token, else a new one. It is
/// returned in the response header, becomes <c>HttpContext.TraceIdentifier</c>, and sits in the log scope of the request.
/// </summary>
public sealed partial class RequestIds(RequestDelegate next, ILogger<RequestIds> logger)
{
    public const string Header = "X-Request-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        var given = context.Request.Headers[Header].ToString();
        var id = SafeId().IsMatch(given) ? given : Guid.CreateVersion7().ToString("N");
        context.TraceIdentifier = id;
        // At send time: a problem response clears the headers set before it.
        context.Response.OnStarting(() =>
        {
            context.Response.Headers[Header] = id;
            return Task.CompletedTask;
        });
        using (logger.BeginScope(new Dictionary<string, object> { ["RequestId"] = id }))
            await next(context);
    }

    // Printable, short, and free of anything a log line or header could be split by.
    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")]
    private static partial Regex SafeId();
}
