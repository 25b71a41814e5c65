using System.Globalization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Tally.Api.Problems;

namespace Tally.Api.Http;

/// <summary>
/// A request without a body is read as having none, whatever its Content-Type says (client libraries send
/// <c>Content-Type: application/json</c> on every call, GETs included). Before routing the header is dropped, so
/// neither routing nor binding tries to read an empty body as JSON.
/// </summary>
public sealed class BodylessRequests(RequestDelegate next)
{
    private static readonly object Bodyless = new();

    public Task InvokeAsync(HttpContext context)
    {
        if (HasNoBody(context))
        {
            context.Items[Bodyless] = true;
            if (!string.IsNullOrEmpty(context.Request.ContentType))
                context.Request.Headers.ContentType = default;
        }
        return next(context);
    }

    private static bool HasNoBody(HttpContext context) =>
        context.Request.ContentLength == 0
        || (context.Request.ContentLength is null && context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false });

    /// <summary>
    /// After routing, on a route that takes a body: no body is an empty JSON object (a route whose body is optional
    /// then runs, one that needs fields says which are missing), and a body without a Content-Type is 415 (the
    /// framework would answer that with an empty body).
    /// </summary>
    public sealed class OnBodyRoutes(RequestDelegate next)
    {
        private static readonly byte[] EmptyObject = "{}"u8.ToArray();

        public Task InvokeAsync(HttpContext context)
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<IAcceptsMetadata>() is not { ContentTypes.Count: > 0 } accepts)
                return next(context);
            var request = context.Request;
            if (context.Items.ContainsKey(Bodyless))
            {
                if (accepts.ContentTypes.Contains("application/json", StringComparer.OrdinalIgnoreCase))
                {
                    request.ContentType = "application/json";
                    request.ContentLength = EmptyObject.Length;
                    request.Body = new MemoryStream(EmptyObject, writable: false);
                }
            }
            else if (string.IsNullOrEmpty(request.ContentType))
            {
                throw new ProblemException(Problem.Make(StatusCodes.Status415UnsupportedMediaType, ProblemTypes.UnsupportedMediaType,
                    Text.Say("不支持的内容类型", "Unsupported media type"), string.Create(CultureInfo.InvariantCulture,
                        $"{Text.Say("请求带有请求体但没有 Content-Type；请以 ", "The request has a body but no Content-Type; send it as ")}{string.Join(Text.Say(" 或 ", " or "), accepts.ContentTypes)}{Text.Say(" 发送。", ".")}")));
            }
            return next(context);
        }
    }
}
