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
            await WriteAsync(context, Problem.Make(StatusCodes.Status504GatewayTimeout, ProblemTypes.Timeout, Text.Say("请求超时", "Timeout"),
                Text.Say("请求未在服务器允许的时间内完成，已被终止。已受理的写入可能仍已保存：请读回核对，或以相同的 externalId 重试。",
                    "The request did not finish in the time this server allows and was stopped. A write that was already "
                    + "accepted may still have been stored: read it back, or retry with the same externalId.")));
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer.
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            logger.LogError(ex, "Unhandled error on {Method} {Path}", context.Request.Method, context.Request.Path);
            await WriteAsync(context, Problem.Make(StatusCodes.Status500InternalServerError, ProblemTypes.Internal,
                Text.Say("服务器内部错误", "Internal error"),
                Text.Say("服务器未能完成该请求。除非已返回成功，否则未保存任何内容。",
                    "The server could not complete the request. Nothing was stored unless a success was returned.")));
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
        // Kestrel's own message and RequestBodyLimit's both end with the limit in bytes; the answer is in our words.
        StatusCodes.Status413PayloadTooLarge => Problem.Make(413, ProblemTypes.PayloadTooLarge, PayloadTooLargeTitle,
            System.Text.RegularExpressions.Regex.Match(ex.Message, @"(\d+) bytes") is { Success: true } m
                ? Text.Say($"请求体超过了 {m.Groups[1].Value} 字节的上限。", $"The request body is larger than {m.Groups[1].Value} bytes.")
                : Text.Say("请求体超过了服务器允许的大小。", "The request body is larger than this server accepts.")),
        _ => Problem.Validation(new Dictionary<string, string[]> { ["body"] = [Text.Say("无法读取请求体。", "The request could not be read.")] }),
    };

    private static Problem ForBareStatus(HttpContext context)
    {
        var status = context.Response.StatusCode;
        return status switch
        {
            404 => Problem.Make(404, ProblemTypes.NotFound, Text.Say("未找到", "Not found"),
                Text.Say($"{context.Request.Path} 处没有资源。", $"No resource at {context.Request.Path}.")),
            405 => Problem.Make(405, ProblemTypes.MethodNotAllowed, Text.Say("不允许的请求方法", "Method not allowed"),
                Text.Say($"{context.Request.Path} 不接受 {context.Request.Method} 请求。",
                    $"{context.Request.Method} is not allowed on {context.Request.Path}.")),
            413 => Problem.Make(413, ProblemTypes.PayloadTooLarge, PayloadTooLargeTitle,
                Text.Say("请求体超过了服务器允许的大小。", "The request body is larger than this server accepts.")),
            414 => Problem.Make(414, ProblemTypes.UriTooLong, Text.Say("URL 过长", "URI too long"),
                Text.Say("请求的 URL 超过了服务器允许的长度。", "The request's URL is longer than this server accepts.")),
            415 => Problem.Make(415, ProblemTypes.UnsupportedMediaType, Text.Say("不支持的内容类型", "Unsupported media type"),
                Text.Say("请以 application/json 发送请求体。", "Send the body as application/json.")),
            431 => Problem.Make(431, ProblemTypes.HeadersTooLarge, Text.Say("请求头过大", "Request headers too large"),
                Text.Say("请求头超过了服务器允许的大小。", "The request's headers are larger than this server accepts.")),
            401 => Problem.Make(401, ProblemTypes.Unauthorized, Text.Say("未认证", "Unauthorized"),
                Text.Say("需要有效的 API 密钥。", "A valid API key is required.")),
            403 => Problem.Make(403, ProblemTypes.Forbidden, Text.Say("无权操作", "Forbidden"),
                Text.Say("此 API 密钥无权执行该操作。", "The API key may not do this.")),
            _ => Problem.Make(status, status >= 500 ? ProblemTypes.Internal : ProblemTypes.Validation,
                ReasonPhrase(status), ReasonPhrase(status) + "."),
        };
    }

    public static string PayloadTooLargeTitle => Text.Say("请求内容过大", "Payload too large");

    private static string ReasonPhrase(int status) =>
        Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } p ? p : "Error";
}
