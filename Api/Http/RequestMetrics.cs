using System.Diagnostics;
using Prometheus;

namespace Tally.Api.Http;

/// <summary>
/// Request counts, durations and requests in progress for /metrics, labelled only from fixed sets: the route template
/// (empty when no route matched), a known HTTP method (else OTHER) and the status code. No request, whatever its
/// method or path, can add a series (prometheus-net's own middleware labels by the raw method).
/// </summary>
public sealed class RequestMetrics(RequestDelegate next)
{
    private static readonly string[] CountLabels = ["code", "method", "endpoint"];

    private static readonly Counter Received = Metrics.CreateCounter("http_requests_received_total",
        "HTTP requests answered, by status code, method and route template.", CountLabels);

    private static readonly Histogram Duration = Metrics.CreateHistogram("http_request_duration_seconds",
        "Time to answer an HTTP request, by status code, method and route template.",
        new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 16), LabelNames = CountLabels });

    private static readonly Gauge InProgress = Metrics.CreateGauge("http_requests_in_progress",
        "HTTP requests being answered, by method.", "method");

    /// <summary>The methods Tally's routes answer (and HEAD, OPTIONS); anything else is counted as OTHER.</summary>
    public static string MethodLabel(string method) => method switch
    {
        _ when HttpMethods.IsGet(method) => "GET",
        _ when HttpMethods.IsPost(method) => "POST",
        _ when HttpMethods.IsPut(method) => "PUT",
        _ when HttpMethods.IsPatch(method) => "PATCH",
        _ when HttpMethods.IsDelete(method) => "DELETE",
        _ when HttpMethods.IsHead(method) => "HEAD",
        _ when HttpMethods.IsOptions(method) => "OPTIONS",
        _ => "OTHER",
    };

    public async Task InvokeAsync(HttpContext context)
    {
        var method = MethodLabel(context.Request.Method);
        var started = Stopwatch.GetTimestamp();
        using var inProgress = InProgress.WithLabels(method).TrackInProgress();
        try
        {
            await next(context);
        }
        finally
        {
            string[] labels = [StatusLabel(context.Response.StatusCode), method, EndpointLabel(context)];
            Received.WithLabels(labels).Inc();
            Duration.WithLabels(labels).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    private static string EndpointLabel(HttpContext context) =>
        context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } template } ? "/" + template.TrimStart('/') : "";

    // Status codes are the application's own; the cached strings keep the hot path free of allocations.
    private static readonly string[] StatusLabels = Enumerable.Range(0, 600).Select(s => s.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    private static string StatusLabel(int status) => status is >= 100 and < 600 ? StatusLabels[status] : "other";
}
