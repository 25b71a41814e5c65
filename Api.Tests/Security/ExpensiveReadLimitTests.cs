using System.Net;
using System.Net.Http.Json;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Security;

/// <summary>OWASP API4: one key may run only a few expensive reads at once; everyone else stays served meanwhile.</summary>
public sealed class ExpensiveReadLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_key_hammering_asOf_reports_gets_429s_for_the_excess_while_liveness_and_another_keys_write_answer()
    {
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?> { ["Tally:Limits:MaxExpensiveReadsPerKey"] = "2" });
        using var admin = app.Admin();
        var events = Enumerable.Range(0, 2000).Select(i => new
        {
            metric = "notices.issued", occurredOn = $"2024-{1 + i % 12:00}-{1 + i % 28:00}", quantity = 1 + i % 5, orgUnit = "hedong",
        }).ToArray();
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsJsonAsync("/api/v1/events/batch", new { events }, Ct)).StatusCode);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        using var writer = await app.ClientWithAsync(["events:write"]);
        writer.Timeout = TimeSpan.FromSeconds(5);
        using var liveness = app.Client(key: null);
        liveness.Timeout = TimeSpan.FromSeconds(5);
        var asOf = Uri.EscapeDataString(DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture));

        var loops = Enumerable.Range(0, 16).Select(async loop =>
        {
            var answers = new List<HttpResponseMessage>();
            for (var i = 0; i < 8; i++)
                answers.Add(await reader.GetAsync(
                    loop % 2 == 0 ? $"/api/v1/reports/annual/2024?asOf={asOf}" : $"/api/v1/totals?year=2024&asOf={asOf}", Ct));
            return answers;
        }).ToList();
        var live = await liveness.GetAsync("/health/live", Ct);
        var written = await writer.PostAsJsonAsync("/api/v1/events",
            new { metric = "notices.issued", occurredOn = "2024-06-01", quantity = 1, orgUnit = "hedong", note = "during-hammer" }, Ct);
        var answers = (await Task.WhenAll(loops)).SelectMany(a => a).ToList();

        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.Created, written.StatusCode);
        Assert.All(answers, a => Assert.Contains(a.StatusCode, (HttpStatusCode[])[HttpStatusCode.OK, HttpStatusCode.TooManyRequests]));
        Assert.Contains(answers, a => a.StatusCode == HttpStatusCode.OK);
        var refused = answers.Where(a => a.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(refused);
        var problem = await refused[0].AssertProblemAsync(429, "/problems/rate-limited");
        Assert.Contains("expensive reads", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.All(refused, r => Assert.True(r.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1)));

        // Reads that are not expensive are not counted: the same key reads totals of now as often as it likes.
        var plain = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => reader.GetAsync("/api/v1/totals?year=2024", Ct)));
        Assert.All(plain, p => Assert.Equal(HttpStatusCode.OK, p.StatusCode));
    }
}
