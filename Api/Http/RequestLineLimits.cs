using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Tally.Api.Problems;

namespace Tally.Api.Http;

/// <summary>
/// The application's own limits on the request line and headers (Kestrel's are set above them, so these answer first,
/// as problems with the security headers): an oversized URL is 414, oversized headers 431, and a header value that
/// is not ASCII (Kestrel hands such bytes over as Latin-1) is 400.
/// </summary>
public sealed class RequestLineLimits(RequestDelegate next, IOptions<LimitOptions> options)
{
    public Task InvokeAsync(HttpContext context)
    {
        var limits = options.Value;
        var request = context.Request;
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        var urlBytes = target?.Length ?? request.Path.Value?.Length + request.QueryString.Value?.Length ?? 0;
        if (urlBytes > limits.MaxUrlBytes)
            return ProblemMiddleware.WriteAsync(context, Problem.Make(StatusCodes.Status414UriTooLong, ProblemTypes.UriTooLong,
                Text.Say("URL 过长", "URI too long"), string.Create(CultureInfo.InvariantCulture, $"{Text.Say(
                    $"请求的 URL 为 {urlBytes} 字节；本服务器至多接受 {limits.MaxUrlBytes} 字节（Tally:Limits:MaxUrlBytes）。",
                    $"The request's URL is {urlBytes} bytes; this server takes at most {limits.MaxUrlBytes} (Tally:Limits:MaxUrlBytes).")}")));

        long headerBytes = 0;
        foreach (var (name, values) in request.Headers)
        {
            foreach (var value in values)
            {
                // As Kestrel counts them: name, ": ", value and CRLF.
                headerBytes += name.Length + (value?.Length ?? 0) + 4;
                if (value is not null && !IsAscii(value))
                    return ProblemMiddleware.WriteAsync(context, Problem.Validation(new Dictionary<string, string[]>
                    {
                        ["headers." + (IsAscii(name) ? name : "?")] = [Text.Say("请求头的值须为 ASCII（RFC 9110）；其他文字请先编码。",
                            "A header value must be ASCII (RFC 9110); encode other text.")],
                    }));
            }
        }
        if (headerBytes > limits.MaxHeaderBytes)
            return ProblemMiddleware.WriteAsync(context, Problem.Make(StatusCodes.Status431RequestHeaderFieldsTooLarge,
                ProblemTypes.HeadersTooLarge, Text.Say("请求头过大", "Request headers too large"), string.Create(CultureInfo.InvariantCulture, $"{Text.Say(
                    $"请求头共 {headerBytes} 字节；本服务器至多接受 {limits.MaxHeaderBytes} 字节（Tally:Limits:MaxHeaderBytes）。",
                    $"The request's headers are {headerBytes} bytes; this server takes at most {limits.MaxHeaderBytes} (Tally:Limits:MaxHeaderBytes).")}")));
        return next(context);
    }

    private static bool IsAscii(string text) => System.Text.Ascii.IsValid(text);
}
