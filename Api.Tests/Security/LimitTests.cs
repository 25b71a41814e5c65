using System.Net;
using System.Net.Http.Json;
using System.Text;
using Dapper;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Security;

/// <summary>OWASP API4: every request is bounded in size, rate and time, and each limit answers with its problem.</summary>
public sealed class LimitTests(TallyApp shared)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string EventJson(string note) =>
        $$"""{"metric":"notices.issued","occurredOn":"2024-02-01","quantity":1,"orgUnit":"hedong","note":"{{note}}"}""";

    private static long Stored(TallyApp app, string note)
    {
        using var db = app.OpenDatabase();
        return db.ExecuteScalar<long>("SELECT count(*) FROM events WHERE note = @note", new { note });
    }

    [Fact]
    public async Task A_body_over_the_limit_is_413_whether_its_length_is_declared_or_chunked()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?> { ["Tally:Limits:MaxBodyBytes"] = "1024" });
        using var client = await app.ClientWithAsync(["events:write"]);
        var big = new string('x', 1500);

        var declared = await client.PostJsonAsync("/api/v1/events", EventJson(big));
        var problem = await declared.AssertProblemAsync(413, "/problems/payload-too-large");
        Assert.Contains("1024", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);

        var streamed = await client.PostAsync("/api/v1/events", new UnknownLengthContent(EventJson(big)), Ct);
        await streamed.AssertProblemAsync(413, "/problems/payload-too-large");
        Assert.Equal(0, Stored(app, big));

        var small = Unique.Code("small");
        Assert.Equal(HttpStatusCode.Created, (await client.PostJsonAsync("/api/v1/events", EventJson(small))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/api/v1/events", new UnknownLengthContent(EventJson(small + "2")), Ct)).StatusCode);
    }

    [Fact]
    public async Task Over_a_real_socket_bodies_and_headers_over_their_limits_are_refused()
    {
        await using var app = TallyApp.StartKestrel(new Dictionary<string, string?>
        {
            ["Tally:Limits:MaxBodyBytes"] = "1024",
            ["Tally:Limits:MaxHeaderBytes"] = "8192",
        }, port: 5380);
        using var client = await app.ClientWithAsync(["events:write"]);
        Assert.Equal("127.0.0.1", client.BaseAddress!.Host);
        var big = new string('y', 3000);

        var declared = await client.PostJsonAsync("/api/v1/events", EventJson(big));
        await declared.AssertProblemAsync(413, "/problems/payload-too-large");
        // The same client: after a refused body the connection is closed, and the client knows not to reuse it.
        var chunked = await client.PostAsync("/api/v1/events", new UnknownLengthContent(EventJson(big)), Ct);
        await chunked.AssertProblemAsync(413, "/problems/payload-too-large");
        Assert.False(chunked.Headers.Contains("Server"));
        Assert.Equal("nosniff", chunked.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal(0, Stored(app, big));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/metrics");
        request.Headers.TryAddWithoutValidation("X-Padding", new string('h', 10_000));
        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, (await client.SendAsync(request, Ct)).StatusCode);

        var fine = await client.GetAsync("/api/v1/metrics", Ct);
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
        Assert.False(fine.Headers.Contains("Server"));
    }

    [Fact]
    public async Task A_key_over_its_rate_gets_429_with_Retry_After_and_other_keys_are_untouched()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["Tally:RateLimit:PermitsPerSecond"] = "1",
            ["Tally:RateLimit:Burst"] = "3",
        });
        var secret = await app.KeyAsync(["events:read"]);
        var other = await app.KeyAsync(["events:read"]);
        using var client = app.Client(secret);

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 12; i++)
            responses.Add(await client.GetAsync("/api/v1/metrics", Ct));
        Assert.Equal(HttpStatusCode.OK, responses[0].StatusCode);
        var limited = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        var problem = await limited.AssertProblemAsync(429, "/problems/rate-limited");
        Assert.Contains("per second", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.True(limited.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), $"Retry-After: {limited.Headers.RetryAfter}");
        Assert.Equal("nosniff", limited.Headers.GetValues("X-Content-Type-Options").Single());

        using var bystander = app.Client(other);
        Assert.Equal(HttpStatusCode.OK, (await bystander.GetAsync("/api/v1/metrics", Ct)).StatusCode);
    }

    [Fact]
    public async Task Requests_without_a_valid_key_share_a_bucket_per_address()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["Tally:RateLimit:PermitsPerSecond"] = "1",
            ["Tally:RateLimit:Burst"] = "2",
        });
        var valid = await app.KeyAsync(["events:read"]);
        // A new wrong key on every request, as a guesser sends them: a bucket per token would never run dry.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 12; i++)
        {
            using var guesser = app.Client($"tly_guess-{i}-{Guid.NewGuid():N}");
            statuses.Add((await guesser.GetAsync("/api/v1/metrics", Ct)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, statuses[0]);
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);
        Assert.True(statuses.Take(4).Contains(HttpStatusCode.TooManyRequests), string.Join(", ", statuses));
        Assert.True(statuses.Count(s => s == HttpStatusCode.Unauthorized) <= 4, string.Join(", ", statuses));

        // No key at all comes from the same address: the same bucket, already empty.
        using var keyless = app.Client(null);
        await (await keyless.GetAsync("/api/v1/metrics", Ct)).AssertProblemAsync(429, "/problems/rate-limited");
        // A valid key has a bucket of its own.
        using var member = app.Client(valid);
        Assert.Equal(HttpStatusCode.OK, (await member.GetAsync("/api/v1/metrics", Ct)).StatusCode);
    }

    [Fact]
    public async Task Probes_and_metrics_answer_200_when_bad_keys_have_emptied_the_anonymous_bucket()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["Tally:RateLimit:PermitsPerSecond"] = "1",
            ["Tally:RateLimit:Burst"] = "2",
        });
        using var guessing = app.Client("tly_guessing-keys-one-after-another");
        using var keyless = app.Client(key: null);
        using var probe = app.Client(key: null);
        probe.Timeout = TimeSpan.FromSeconds(5);
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 20 && limited is null; i++)
        {
            var response = await guessing.GetAsync("/api/v1/metrics", Ct);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
                limited = response;
        }
        Assert.NotNull(limited);
        HttpResponseMessage? keylessLimited = null;
        for (var i = 0; i < 20 && keylessLimited is null; i++)
        {
            var response = await keyless.GetAsync("/api/v1/metrics", Ct);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
                keylessLimited = response;
        }
        Assert.NotNull(keylessLimited);

        foreach (var path in new[] { "/health/live", "/health/ready", "/metrics" })
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync(path, Ct)).StatusCode);
                Assert.Equal(HttpStatusCode.OK, (await guessing.GetAsync(path, Ct)).StatusCode);
            }
        }
        // The bucket is still empty for everything else without a valid key, and it does not blame a key nobody sent.
        foreach (var response in new[] { limited, keylessLimited })
        {
            var problem = await response.AssertProblemAsync(429, "/problems/rate-limited");
            var detail = problem["detail"]!.GetValue<string>();
            Assert.DoesNotContain("This API key", detail, StringComparison.Ordinal);
            Assert.Contains("without a valid API key", detail, StringComparison.Ordinal);
            Assert.NotNull(response.Headers.RetryAfter);
        }
    }

    [Fact]
    public async Task A_request_that_runs_past_its_timeout_is_answered_with_a_problem_not_left_hanging()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?> { ["Tally:Limits:RequestTimeout"] = "00:00:00.300" });
        // The bootstrap key: no other request has to beat the short timeout first.
        using var client = app.Admin();
        using var stalled = new StalledContent("{\"metric\":\"notices.issued\",");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events") { Content = stalled };

        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        var problem = await response.AssertProblemAsync(504, "/problems/timeout");
        Assert.Contains("stopped", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public void Routes_that_scan_the_ledger_use_the_long_timeout()
    {
        var endpoints = shared.Services.GetRequiredService<IEnumerable<EndpointDataSource>>().SelectMany(s => s.Endpoints)
            .OfType<RouteEndpoint>().ToList();
        var verify = endpoints.Single(e => e.RoutePattern.RawText!.TrimStart('/') == "api/v1/audit/verify");
        Assert.Equal("long", verify.Metadata.GetMetadata<RequestTimeoutAttribute>()?.PolicyName);
    }

    [Fact]
    public async Task Deeply_nested_json_and_too_many_dimensions_are_400()
    {
        using var client = await shared.ClientWithAsync(["events:write"]);
        var deep = new string('[', 10_000) + new string(']', 10_000);
        await (await client.PostJsonAsync("/api/v1/events", deep)).AssertValidationAsync("body");
        var deepField = $$"""{"metric":"notices.issued","occurredOn":"2024-02-01","quantity":1,"orgUnit":"hedong","dimensions":{{new string('[', 10_000) + new string(']', 10_000)}}}""";
        await (await client.PostJsonAsync("/api/v1/events", deepField)).AssertValidationAsync("dimensions");
        var deepObject = string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000);
        await (await client.PostJsonAsync("/api/v1/events", deepObject)).AssertProblemAsync(400, "/problems/validation");

        var dimensions = Enumerable.Range(0, 5000).ToDictionary(i => $"k{i}", _ => "v");
        var many = await client.PostAsJsonAsync("/api/v1/events", new
        {
            metric = "websites.cleaned", occurredOn = "2024-02-01", quantity = 1, orgUnit = "hedong", dimensions,
        }, Ct);
        var body = await many.AssertValidationAsync("dimensions");
        Assert.Single(body["errors"]!.AsObject()); // one error, not one per key
        Assert.True((await many.Content.ReadAsStringAsync(Ct)).Length < 2000);
    }

    /// <summary>A body sent without Content-Length (chunked over HTTP/1.1).</summary>
    private sealed class UnknownLengthContent : HttpContent
    {
        private readonly byte[] _bytes;

        public UnknownLengthContent(string text)
        {
            _bytes = Encoding.UTF8.GetBytes(text);
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(_bytes).AsTask();

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
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
