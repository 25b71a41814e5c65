using System.Net;
using System.Net.Http.Json;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Keys;

public sealed class ApiKeyTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Create_returns_201_with_the_secret_once_and_stores_only_its_hash()
    {
        using var admin = app.Admin();
        var response = await admin.PostAsJsonAsync("/api/v1/api-keys",
            new { name = "report-platform", source = "report-platform", scopes = new[] { "events:write" }, orgUnit = "hedong" }, Ct);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.ReadJsonAsync();
        var id = body["id"]!.GetValue<string>();
        var secret = body["key"]!.GetValue<string>();
        Assert.StartsWith("key_", id);
        Assert.Equal($"/api/v1/api-keys/{id}", response.Headers.Location?.OriginalString);
        Assert.Equal("report-platform", body["name"]!.GetValue<string>());
        Assert.Equal("report-platform", body["source"]!.GetValue<string>());
        Assert.Equal("events:write", body["scopes"]![0]!.GetValue<string>());
        Assert.Equal("hedong", body["orgUnit"]!.GetValue<string>());
        Assert.NotNull(body["createdAt"]);
        Assert.Null(body["lastUsedAt"]);
        Assert.Null(body["revokedAt"]);

        using var db = app.OpenDatabase();
        var stored = db.QuerySingle<(string Scopes, byte[] Hash)>("SELECT scopes, key_hash FROM api_keys WHERE id = @id", new { id });
        Assert.Equal("events:write", stored.Scopes);
        Assert.Equal(32, stored.Hash.Length);
        Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM api_keys WHERE CAST(key_hash AS TEXT) LIKE '%' || @secret || '%'", new { secret }));

        var listed = await (await admin.GetAsync("/api/v1/api-keys?limit=1000", Ct)).ReadJsonAsync();
        var item = listed["items"]!.AsArray().Single(k => k!["id"]!.GetValue<string>() == id)!;
        Assert.Null(item["key"]);
        Assert.DoesNotContain(secret, listed.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_revoked_key_is_refused_from_the_next_request_on()
    {
        var (id, secret) = await app.CreateKeyAsync(["events:read"]);
        using var client = app.Client(secret);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/metrics", Ct)).StatusCode);

        using var admin = app.Admin();
        var revoke = await admin.DeleteAsync($"/api/v1/api-keys/{id}", Ct);
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);

        var refused = await client.GetAsync("/api/v1/metrics", Ct);
        var problem = await refused.AssertProblemAsync(401, "/problems/unauthorized");
        Assert.Contains("revoked", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.Single().Scheme);

        using var db = app.OpenDatabase();
        Assert.NotNull(db.ExecuteScalar<string?>("SELECT revoked_at FROM api_keys WHERE id = @id", new { id }));
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/api-keys/{id}", Ct)).StatusCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer tly_not-a-key")]
    [InlineData("Basic dXNlcjpwYXNz")]
    [InlineData("Bearer ")]
    public async Task Missing_or_unknown_keys_get_401_with_WWW_Authenticate(string? header)
    {
        using var client = app.Client(key: null);
        if (header is not null)
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", header);
        var response = await client.GetAsync("/api/v1/metrics", Ct);
        await response.AssertProblemAsync(401, "/problems/unauthorized");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task Revoking_an_unknown_key_is_404()
    {
        using var admin = app.Admin();
        await (await admin.DeleteAsync("/api/v1/api-keys/key_nothing", Ct)).AssertProblemAsync(404, "/problems/not-found");
    }

    [Fact]
    public async Task Create_validates_name_source_scopes_and_org_unit()
    {
        using var admin = app.Admin();
        var response = await admin.PostAsJsonAsync("/api/v1/api-keys",
            new { name = "", source = "Bad Source", scopes = new[] { "events:write", "root" }, orgUnit = "nowhere" }, Ct);
        await response.AssertValidationAsync("name", "source", "scopes[1]", "orgUnit");

        var noScopes = await admin.PostAsJsonAsync("/api/v1/api-keys", new { name = "x", source = "x", scopes = Array.Empty<string>() }, Ct);
        await noScopes.AssertValidationAsync("scopes");
    }

    [Fact]
    public async Task Last_use_is_shown_in_the_listing()
    {
        var (id, secret) = await app.CreateKeyAsync(["totals:read"]);
        using (var client = app.Client(secret))
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/metrics", Ct)).StatusCode);

        using var admin = app.Admin();
        var items = (await (await admin.GetAsync("/api/v1/api-keys?limit=1000", Ct)).ReadJsonAsync())["items"]!.AsArray();
        var mine = items.Single(k => k!["id"]!.GetValue<string>() == id)!;
        Assert.NotNull(mine["lastUsedAt"]);
    }

    [Fact]
    public async Task Listing_pages_by_id_without_repeats()
    {
        for (var i = 0; i < 3; i++)
            await app.KeyAsync(["events:read"]);
        using var admin = app.Admin();
        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await (await admin.GetAsync("/api/v1/api-keys?limit=2" + (cursor is null ? "" : "&cursor=" + cursor), Ct)).ReadJsonAsync();
            seen.AddRange(page["items"]!.AsArray().Select(k => k!["id"]!.GetValue<string>()));
            cursor = page["nextCursor"]?.GetValue<string>();
        } while (cursor is not null);
        Assert.Equal(seen.Distinct().Count(), seen.Count);
        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
        Assert.True(seen.Count >= 4);
    }

    [Fact]
    public async Task Bad_paging_parameters_are_400()
    {
        using var admin = app.Admin();
        await (await admin.GetAsync("/api/v1/api-keys?limit=1001", Ct)).AssertValidationAsync("limit");
        await (await admin.GetAsync("/api/v1/api-keys?limit=0", Ct)).AssertValidationAsync("limit");
        await (await admin.GetAsync("/api/v1/api-keys?limit=ten", Ct)).AssertValidationAsync("limit");
        await (await admin.GetAsync("/api/v1/api-keys?cursor=garbage!", Ct)).AssertValidationAsync("cursor");
    }
}
