using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Security;

/// <summary>API key secrets appear once, in the answer that creates them: never in logs, listings or the audit trail.</summary>
public sealed class SecretHygieneTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task No_log_line_at_any_level_holds_a_presented_key_or_the_Authorization_header()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Trace",
            ["Logging:LogLevel:Microsoft"] = "Trace",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
            ["Logging:LogLevel:FastEndpoints"] = "Trace",
            ["Logging:LogLevel:Tally.Api.Security.ApiKeyAuthenticationHandler"] = "Trace",
            ["Logging:Console:LogLevel:Default"] = "None",
            ["Logging:Debug:LogLevel:Default"] = "None",
        });
        var capture = new CapturingLoggerProvider();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(capture);

        var (id, secret) = await app.CreateKeyAsync(["events:write", "events:read"]);
        const string unknown = "tly_this-is-not-a-key-but-must-not-be-logged-either";
        using (var client = app.Client(secret))
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/metrics", Ct)).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/v1/events", new
            {
                metric = "notices.issued", occurredOn = "2024-02-01", quantity = 1, orgUnit = "hedong",
            }, Ct)).StatusCode);
            await (await client.GetAsync("/api/v1/api-keys", Ct)).AssertProblemAsync(403, "/problems/forbidden");
        }
        using (var stranger = app.Client(unknown))
            await (await stranger.GetAsync("/api/v1/metrics", Ct)).AssertProblemAsync(401, "/problems/unauthorized");
        using (var malformed = app.Client(key: null))
        {
            malformed.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Basic " + unknown);
            await (await malformed.GetAsync("/api/v1/metrics", Ct)).AssertProblemAsync(401, "/problems/unauthorized");
        }
        using (var admin = app.Admin())
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/api-keys/{id}", Ct)).StatusCode);
        using (var revoked = app.Client(secret))
            await (await revoked.GetAsync("/api/v1/metrics", Ct)).AssertProblemAsync(401, "/problems/unauthorized");

        Assert.NotEmpty(capture.Lines);
        Assert.Contains(capture.Lines, l => l.Contains("/api/v1/metrics", StringComparison.Ordinal)); // requests are logged at this level
        foreach (var presented in new[] { secret, unknown, TallyApp.AdminKey })
            Assert.DoesNotContain(capture.Lines, l => l.Contains(presented, StringComparison.Ordinal));
        Assert.DoesNotContain(capture.Lines, l => l.Contains("Bearer tly_", StringComparison.OrdinalIgnoreCase));
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        private readonly ConcurrentQueue<string> _lines = new();

        public IReadOnlyCollection<string> Lines => _lines;

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull
            {
                lines.Enqueue($"{category} scope: {Describe(state)}");
                return null;
            }

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception,
                Func<TState, Exception?, string> formatter) =>
                lines.Enqueue($"{category} {logLevel}: {formatter(state, exception)} {Describe(state)} {exception}");

            private static string Describe(object? state) => state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? string.Join("; ", pairs.Select(p => $"{p.Key}={p.Value}"))
                : state?.ToString() ?? "";
        }
    }
}
