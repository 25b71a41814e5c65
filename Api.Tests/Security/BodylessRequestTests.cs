using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Security;

/// <summary>A request without a body has none, whatever its Content-Type says (CONTRACT.md, Conventions).</summary>
public sealed class BodylessRequestTests(TallyApp shared)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static HttpRequestMessage Bodyless(HttpMethod method, string url, string? contentType = "application/json")
    {
        var request = new HttpRequestMessage(method, url);
        if (contentType is not null)
        {
            request.Content = new ByteArrayContent([]);
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }
        return request;
    }

    [Theory]
    [InlineData("/api/v1/events?limit=1")]
    [InlineData("/api/v1/metrics")]
    [InlineData("/api/v1/totals?year=2024")]
    public async Task A_GET_with_a_json_content_type_and_no_body_is_answered_as_without_it(string url)
    {
        using var admin = shared.Admin();
        using var request = Bodyless(HttpMethod.Get, url);
        var response = await admin.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData(null)]
    public async Task A_POST_without_a_body_is_read_as_an_empty_object_and_names_the_missing_fields_not_invalid_json(string? contentType)
    {
        using var writer = await shared.ClientWithAsync(["events:write"]);
        var id = await writer.RecordAsync("notices.issued", "2024-04-04", 1, "hedong");
        using var request = Bodyless(HttpMethod.Post, $"/api/v1/events/{id}/void", contentType);

        var response = await writer.SendAsync(request, Ct);

        var problem = await response.AssertValidationAsync("reason");
        Assert.Null(problem["errors"]!["body"]);
        using var admin = shared.Admin();
        var stored = await (await admin.GetAsync($"/api/v1/events/{id}", Ct)).ReadJsonAsync();
        Assert.Null(stored["voidedAt"]);
    }

    [Fact]
    public async Task A_request_stopped_by_its_time_limit_is_logged_as_a_warning_with_its_route_and_time()
    {
        var logs = new CapturedLogs();
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?> { ["Tally:Limits:RequestTimeout"] = "00:00:00.300" },
            services => services.AddSingleton<ILoggerProvider>(logs));
        using var client = app.Admin();
        using var stalled = new StalledContent("{\"metric\":\"notices.issued\",");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = stalled };

        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);

        await response.AssertProblemAsync(504, "/problems/timeout");
        var warning = Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("time limit", StringComparison.Ordinal));
        Assert.Contains("POST /api/v1/events", warning.Message, StringComparison.Ordinal);
        Assert.Matches(@"after \d+ ms", warning.Message);
    }

    private sealed class CapturedLogs : ILoggerProvider
    {
        public ConcurrentQueue<(LogLevel Level, string Message)> Entries { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedLogs owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
                Func<TState, Exception?, string> formatter) => owner.Entries.Enqueue((logLevel, formatter(state, exception)));
        }
    }

    /// <summary>A body that sends its first bytes and then nothing more until the test ends.</summary>
    private sealed class StalledContent : HttpContent
    {
        private readonly TaskCompletionSource _never = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly string _start;

        public StalledContent(string start)
        {
            _start = start;
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(Encoding.UTF8.GetBytes(_start));
            await stream.FlushAsync();
            await _never.Task;
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            _never.TrySetResult();
            base.Dispose(disposing);
        }
    }
}
