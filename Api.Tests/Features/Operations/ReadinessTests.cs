using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Operations;

/// <summary>Readiness asks the writer, never takes the write lock itself: it answers at once whatever the writer does.</summary>
public sealed class ReadinessTests(TallyApp shared)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Readiness_answers_200_within_its_bound_while_a_200k_row_import_is_storing()
    {
        // Its own app: the import keeps this writer busy for as long as it stores (in the service's own pieces).
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["Tally:Limits:Imports:PieceRows"] = "20000",
        });
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        var csv = new StringBuilder("metric,occurredOn,quantity,orgUnit\n");
        for (var i = 0; i < 200_000; i++)
            csv.Append("notices.issued,2024-0").Append(1 + i % 9).Append("-1").Append(i % 10).Append(',').Append(1 + i % 7).Append(',').Append(unit).Append('\n');
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(csv.ToString()));
        content.Headers.ContentType = new MediaTypeHeaderValue("text/csv");
        var started = await writer.PostAsync("/api/v1/imports?name=readiness-under-load", content, Ct);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var id = (await started.ReadJsonAsync())["id"]!.GetValue<string>();

        using var probe = app.Client(key: null);
        probe.Timeout = TimeSpan.FromSeconds(5);
        var probesWhileStoring = 0;
        var deadline = DateTime.UtcNow.AddMinutes(3);
        while (DateTime.UtcNow < deadline)
        {
            var status = (await (await writer.GetAsync($"/api/v1/imports/{id}", Ct)).ReadJsonAsync())["status"]!.GetValue<string>();
            if (status is "succeeded" or "failed")
            {
                Assert.Equal("succeeded", status);
                break;
            }
            var ready = await probe.GetAsync("/health/ready", Ct);
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            if (status == "running")
                probesWhileStoring++;
            await Task.Delay(50, Ct);
        }
        Assert.True(probesWhileStoring > 0, "No probe ran while the import was storing.");
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    [InlineData("/metrics")]
    public async Task Probes_and_metrics_ignore_a_query_string(string path)
    {
        using var anonymous = shared.Client(key: null);
        var response = await anonymous.GetAsync(path + "?lb=aws-elb&check=1&check=2", Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
