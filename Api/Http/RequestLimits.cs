using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Tally.Api.Problems;
using Tally.Api.Security;

namespace Tally.Api.Http;

/// <summary>Body size, rate, time and header limits of every request, answered with the contract's problems.</summary>
public static class RequestLimits
{
    /// <summary>Request timeout policy for long routes: <c>Options(b => b.WithRequestTimeout(RequestLimits.LongRequests))</c>.</summary>
    public const string LongRequests = "long";

    public static IServiceCollection AddTallyLimits(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<LimitOptions>(configuration.GetSection("Tally:Limits"));
        services.Configure<RateLimitOptions>(configuration.GetSection("Tally:RateLimit"));
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<LimitOptions>>((kestrel, limits) =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = limits.Value.MaxBodyBytes;
            // Kestrel's own limits sit above the application's (RequestLineLimits), so an oversized URL or header block is
            // refused by the application, as a problem with the security headers; only far larger ones are Kestrel's.
            kestrel.Limits.MaxRequestHeadersTotalSize = WebServerCeiling(limits.Value.MaxHeaderBytes);
            kestrel.Limits.MaxRequestLineSize = WebServerCeiling(limits.Value.MaxUrlBytes);
            kestrel.Limits.MaxRequestHeaderCount = 1000;
            // Non-ASCII header bytes reach the application (as Latin-1, which never fails to decode) to be refused there.
            kestrel.RequestHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
        });
        services.AddOptions<RequestTimeoutOptions>().Configure<IOptions<LimitOptions>>((timeouts, limits) =>
        {
            timeouts.DefaultPolicy = new RequestTimeoutPolicy { Timeout = limits.Value.RequestTimeout };
            timeouts.AddPolicy(LongRequests, limits.Value.LongRequestTimeout);
        });
        services.AddRequestTimeouts();
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>>((limiter, rate) =>
        {
            var bucket = new TokenBucketRateLimiterOptions
            {
                TokenLimit = Math.Max(1, rate.Value.Burst),
                TokensPerPeriod = Math.Max(1, rate.Value.PermitsPerSecond),
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            };
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                RateLimitPartition.GetTokenBucketLimiter(PartitionOf(context), _ => bucket));
            limiter.OnRejected = (rejected, _) =>
            {
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) && wait > TimeSpan.Zero
                    ? wait
                    : TimeSpan.FromSeconds(1);
                var who = rejected.HttpContext.TryGetCaller() is null
                    ? Text.Say("来自此地址、未带有效 API 密钥的请求", "Requests from this address without a valid API key")
                    : Text.Say("此 API 密钥", "This API key");
                return new ValueTask(ProblemMiddleware.WriteAsync(rejected.HttpContext, Problem.Make(
                    StatusCodes.Status429TooManyRequests, ProblemTypes.RateLimited, Text.Say("请求过于频繁", "Too many requests"),
                    string.Create(CultureInfo.InvariantCulture, $"{Text.Say(
                        $"{who}每秒超过 {rate.Value.PermitsPerSecond} 次（突发上限 {rate.Value.Burst} 次）。请在 Retry-After 所示时间后重试。",
                        $"{who} sent more than {rate.Value.PermitsPerSecond} requests per second (bursts up to {rate.Value.Burst}). Retry after the Retry-After delay.")}")),
                    retryAfter));
            };
        });
        services.AddRateLimiter(_ => { });
        return services;
    }

    /// <summary>Kestrel's limit for one of the application's: twice it and at least 16 KiB more.</summary>
    private static int WebServerCeiling(int applicationLimit) =>
        (int)Math.Min(int.MaxValue, Math.Max(2L * applicationLimit, applicationLimit + 16L * 1024));

    /// <summary>Before authentication: refuses bodies over the limit (413) whatever the server.</summary>
    public static IApplicationBuilder UseTallyBodyLimit(this IApplicationBuilder app) => app.UseMiddleware<RequestBodyLimit>();

    /// <summary>A key's own bucket; requests without a valid key share one per remote address.</summary>
    private static string PartitionOf(HttpContext context) =>
        context.TryGetCaller() is { } key
            ? "key:" + key.Id
            : "ip:" + (context.Connection.RemoteIpAddress ?? IPAddress.None);
}

/// <summary>
/// Applies the body limit (the route's <see cref="IRequestSizeLimitMetadata"/>, else Tally:Limits:MaxBodyBytes):
/// a declared Content-Length over it is refused before anything is read; a chunked body is cut off where it passes it.
/// Kestrel enforces the limit itself once told; on servers without that feature (the test host) the body is wrapped.
/// </summary>
public sealed class RequestBodyLimit(RequestDelegate next, IOptions<LimitOptions> options)
{
    public Task InvokeAsync(HttpContext context)
    {
        var limit = context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>() is { } declared
            ? declared.MaxRequestBodySize
            : options.Value.MaxBodyBytes;
        if (limit is not { } max)
            return next(context);
        if (context.Request.ContentLength > max)
            throw TooLarge(max);
        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false })
            feature.MaxRequestBodySize = max;
        else
            context.Request.Body = new LimitedRequestStream(context.Request.Body, max);
        return next(context);
    }

    public static Microsoft.AspNetCore.Http.BadHttpRequestException TooLarge(long max) =>
        new(string.Create(CultureInfo.InvariantCulture, $"The request body is larger than {max} bytes."), // ProblemMiddleware words the answer

            StatusCodes.Status413PayloadTooLarge);
}

/// <summary>A request body that fails with 413 once more than <c>max</c> bytes have been read from it.</summary>
public sealed class LimitedRequestStream(Stream inner, long max) : Stream
{
    private long _read;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _read;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Count(int read)
    {
        _read += read;
        if (_read > max)
            throw RequestBodyLimit.TooLarge(max);
        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
