using System.Text.Json;
using Microsoft.AspNetCore.Http.Timeouts;
using Tally.Api.Data;

namespace Tally.Api.Problems;

/// <summary>Turns every failure of the pipeline into the contract's problem+json, in one place.</summary>
public sealed class ProblemMiddleware(RequestDelegate next, ILogger<ProblemMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        catch (ProblemException ex) when (!context.Response.HasStarted)
        {
            await WriteAsync(context, ex.Problem, ex.RetryAfter);
        }
        catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
        {
            // The rest of the body is never read: tell an HTTP/1.1 client this connection ends here, so it opens a new one.
            if (HttpProtocol.IsHttp11(context.Request.Protocol))
                context.Response.OnStarting(() =>
                {
                    context.Response.Headers.Connection = "close";
                    return Task.CompletedTask;
                });
            await WriteAsync(context, FromBadRequest(ex));
        }
        catch (OperationCanceledException) when (TimedOut(context) && !context.Response.HasStarted)
        {
            logger.LogWarning("Request {Method} {Route} stopped by its time limit after {ElapsedMs} ms",
                context.Request.Method, RouteOf(context), (long)System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            await WriteAsync(context, Problem.Make(StatusCodes.Status504GatewayTimeout, ProblemTypes.Timeout, "Timeout",
                "The request did not finish in the time this server allows and was stopped. A write that was already "
                + "accepted may still have been stored: read it back, or retry with the same externalId."));
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            logger.LogError(ex, "Unhandled error on {Method} {Path}", context.Request.Method, context.Request.Path);
            await WriteAsync(context, Problem.Make(StatusCodes.Status500InternalServerError, ProblemTypes.Internal,
                "Internal error", "The server could not complete the request. Nothing was stored unless a success was returned."));
        }

        if (!context.Response.HasStarted && context.Response.StatusCode >= 400 && context.Response.ContentLength is null
            && string.IsNullOrEmpty(context.Response.ContentType))
        {
            await WriteAsync(context, ForBareStatus(context));
        }
    }

    public static async Task WriteAsync(HttpContext context, Problem problem, TimeSpan? retryAfter = null)
    {
        var response = context.Response;
        response.Clear();
        AddStandardHeaders(response);
        response.StatusCode = problem.Status;
        response.ContentType = "application/problem+json";
        if (retryAfter is { } wait)
            response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (problem.Status == StatusCodes.Status401Unauthorized)
            response.Headers.WWWAuthenticate = "Bearer";
        // Not the request's token: a request stopped by its timeout is still answered.
        await JsonSerializer.SerializeAsync(response.Body, problem, TallyJson.Options, CancellationToken.None);
    }

    /// <summary>The route template (bounded, and free of ids) rather than the raw path.</summary>
    private static string RouteOf(HttpContext context) =>
        context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } template } ? "/" + template.TrimStart('/') : "(no route)";

    private static bool TimedOut(HttpContext context) =>
        context.Features.Get<IHttpRequestTimeoutFeature>()?.RequestTimeoutToken.IsCancellationRequested == true;

    public static void AddStandardHeaders(HttpResponse response)
    {
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.XFrameOptions = "DENY";
    }

    private static Problem FromBadRequest(BadHttpRequestException ex) => ex.StatusCode switch
    {
        StatusCodes.Status413PayloadTooLarge => Problem.Make(413, ProblemTypes.PayloadTooLarge, "Payload too large", ex.Message),
        _ => Problem.Validation(new Dictionary<string, string[]> { ["body"] = ["The request could not be read."] }),
    };

    private static Problem ForBareStatus(HttpContext context)
    {
        var status = context.Response.StatusCode;
        return status switch
        {
            404 => Problem.Make(404, ProblemTypes.NotFound, "Not found", $"No resource at {context.Request.Path}."),
            405 => Problem.Make(405, ProblemTypes.MethodNotAllowed, "Method not allowed",
                $"{context.Request.Method} is not allowed on {context.Request.Path}."),
            413 => Problem.Make(413, ProblemTypes.PayloadTooLarge, "Payload too large",
                "The request body is larger than this server accepts."),
            414 => Problem.Make(414, ProblemTypes.UriTooLong, "URI too long", "The request's URL is longer than this server accepts."),
            415 => Problem.Make(415, ProblemTypes.UnsupportedMediaType, "Unsupported media type",
                "Send the body as application/json."),
            431 => Problem.Make(431, ProblemTypes.HeadersTooLarge, "Request headers too large",
                "The request's headers are larger than this server accepts."),
            401 => Problem.Make(401, ProblemTypes.Unauthorized, "Unauthorized", "A valid API key is required."),
            403 => Problem.Make(403, ProblemTypes.Forbidden, "Forbidden", "The API key may not do this."),
            _ => Problem.Make(status, status >= 500 ? ProblemTypes.Internal : ProblemTypes.Validation,
                ReasonPhrase(status), ReasonPhrase(status) + "."),
        };
    }

    private static string ReasonPhrase(int status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } p ? p : "Error";
}
