using System.Net;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Security;

[Collection(nameof(SeparateApps))]
public sealed class KeysSurviveRestartTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Keys_made_before_a_restart_still_work_after_it_and_the_bootstrap_key_is_not_made_twice()
    {
        await using var first = await TallyApp.StartAsync(new Dictionary<string, string?>());
        var reader = await first.KeyAsync(["events:read"]);

        // A second host on the same database file: what a restart of the service sees.
        await using var restarted = await TallyApp.StartAsync(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Tally"] = first.ConnectionString,
        });
        using (var client = restarted.Client(reader))
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/metrics", Ct)).StatusCode);
        using (var admin = restarted.Admin())
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/api/v1/api-keys", Ct)).StatusCode);
        using var db = first.OpenDatabase();
        Assert.Equal(1, db.ExecuteScalar<int>("SELECT count(*) FROM api_keys WHERE name = 'bootstrap-admin'"));
    }
}
