using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Audit;

public sealed class ListAuditTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static object Event(string orgUnit, long quantity = 3, string? note = null) => new
    {
        metric = "leads.handled", occurredOn = "2024-05-06", quantity, orgUnit, dimensions = new { kind = "fraud" },
        externalId = Unique.Code("audit"), note = note ?? "联动处置网络诈骗线索",
    };

    private static async Task<JsonArray> ItemsAsync(HttpClient client, string query)
    {
        var response = await client.GetAsync("/api/v1/audit?" + query, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.ReadJsonAsync())["items"]!.AsArray();
    }

    [Fact]
    public async Task Recording_an_event_appends_an_entry_with_its_root_that_anyone_can_rehash()
    {
        var unit = await app.OrgUnitAsync();
        var (keyId, secret) = await app.CreateKeyAsync(["events:write"], source: "audit-src");
        using var writer = app.Client(secret);
        var posted = await writer.PostAsJsonAsync("/api/v1/events", Event(unit), Ct);
        Assert.True(posted.StatusCode == HttpStatusCode.Created, await posted.Content.ReadAsStringAsync(Ct));
        var created = await posted.ReadJsonAsync();
        var id = created["id"]!.GetValue<string>();

        using var auditor = await app.ClientWithAsync(["audit:read"]);
        var entry = Assert.Single(await ItemsAsync(auditor, "entity=events:" + id))!;

        Assert.Equal("events.created", entry["action"]!.GetValue<string>());
        Assert.Equal(created["auditSeq"]!.GetValue<long>(), entry["seq"]!.GetValue<long>());
        Assert.Equal(keyId, entry["actor"]!["keyId"]!.GetValue<string>());
        Assert.Equal("test events:write", entry["actor"]!["name"]!.GetValue<string>());
        // One event: the root is its leaf hash, SHA-256(0x00 ‖ the canonical JSON of its created fields).
        var leaf = IndependentProof.LeafJson(created.AsObject());
        Assert.Equal(IndependentProof.Hex(IndependentProof.Leaf(leaf)), entry["data"]!["root"]!.GetValue<string>());
        Assert.Equal(1, entry["data"]!["events"]!.GetValue<long>());
        Assert.Equal(id, entry["data"]!["firstEventId"]!.GetValue<string>());
        Assert.Equal(id, entry["data"]!["lastEventId"]!.GetValue<string>());

        // The entry carries everything its hash covers: recompute it from the response alone.
        var seq = entry["seq"]!.GetValue<long>();
        var hash = AuditChain.ComputeHash(entry["prevHash"]!.GetValue<string>(), seq, entry["at"]!.GetValue<string>(),
            keyId, "test events:write", "events.created", "events:" + id, entry["data"]!.ToJsonString());
        Assert.Equal(entry["hash"]!.GetValue<string>(), hash);
        Assert.Matches("^[0-9a-f]{64}$", hash);

        using var db = app.OpenDatabase();
        Assert.Equal(entry["prevHash"]!.GetValue<string>(), db.ExecuteScalar<string>("SELECT hash FROM audit_log WHERE seq = @s", new { s = seq - 1 }));
        Assert.Equal(hash, db.ExecuteScalar<string>("SELECT hash FROM audit_log WHERE seq = @seq", new { seq }));
    }

    [Fact]
    public async Task Filters_by_action_and_entity_and_pages_by_seq_without_repeats()
    {
        var code = Unique.Code("unit");
        await app.OrgUnitAsync(code: code);
        using (var admin = app.Admin())
        {
            for (var i = 1; i <= 3; i++)
            {
                var renamed = await admin.PutAsJsonAsync($"/api/v1/org-units/{code}", new { name = $"改名 {i}", parent = "hedong" }, Ct);
                Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
            }
        }
        using var auditor = await app.ClientWithAsync(["audit:read"]);

        var all = await ItemsAsync(auditor, $"entity=org-unit:{code}");
        Assert.Equal(["org-unit.created", "org-unit.updated", "org-unit.updated", "org-unit.updated"],
            all.Select(e => e!["action"]!.GetValue<string>()));
        Assert.Equal("改名 3", all[3]!["data"]!["name"]!.GetValue<string>());
        var updates = await ItemsAsync(auditor, $"entity=org-unit:{code}&action=org-unit.updated");
        Assert.Equal(3, updates.Count);

        var seen = new List<long>();
        string? cursor = null;
        do
        {
            var page = await (await auditor.GetAsync($"/api/v1/audit?entity=org-unit:{code}&limit=1" + (cursor is null ? "" : "&cursor=" + cursor), Ct)).ReadJsonAsync();
            seen.AddRange(page["items"]!.AsArray().Select(e => e!["seq"]!.GetValue<long>()));
            cursor = page["nextCursor"]?.GetValue<string>();
        } while (cursor is not null);
        Assert.Equal(all.Select(e => e!["seq"]!.GetValue<long>()), seen);
        Assert.Equal(seen.Order(), seen);
    }

    [Fact]
    public async Task After_keeps_only_entries_strictly_later_than_the_instant()
    {
        var code = Unique.Code("unit");
        await app.OrgUnitAsync(code: code);
        using (var admin = app.Admin())
            await admin.PutAsJsonAsync($"/api/v1/org-units/{code}", new { name = "later", parent = "hedong" }, Ct);
        using var auditor = await app.ClientWithAsync(["audit:read"]);
        var all = await ItemsAsync(auditor, $"entity=org-unit:{code}");
        Assert.Equal(2, all.Count);

        var first = all[0]!["at"]!.GetValue<string>();
        var after = await ItemsAsync(auditor, $"entity=org-unit:{code}&after={Uri.EscapeDataString(first)}");
        Assert.All(after, e => Assert.True(string.CompareOrdinal(e!["at"]!.GetValue<string>(), first) > 0));
        Assert.DoesNotContain(after, e => e!["seq"]!.GetValue<long>() == all[0]!["seq"]!.GetValue<long>());
        Assert.Empty(await ItemsAsync(auditor, $"entity=org-unit:{code}&after={Uri.EscapeDataString(all[1]!["at"]!.GetValue<string>())}"));
        Assert.Equal(2, (await ItemsAsync(auditor, $"entity=org-unit:{code}&after=2000-01-01T00:00:00%2B08:00")).Count);
    }

    [Theory]
    [InlineData("limit=1001", "limit")]
    [InlineData("limit=0", "limit")]
    [InlineData("cursor=not-a-cursor!", "cursor")]
    [InlineData("after=yesterday", "after")]
    [InlineData("after=2025-01-06T09:30:00", "after")]
    public async Task Bad_parameters_are_400(string query, string field)
    {
        using var auditor = await app.ClientWithAsync(["audit:read"]);
        await (await auditor.GetAsync("/api/v1/audit?" + query, Ct)).AssertValidationAsync(field);
    }

    [Fact]
    public async Task A_key_bound_to_an_org_unit_sees_entries_of_its_subtree_and_the_shared_catalog_only()
    {
        var mine = await app.OrgUnitAsync();
        var child = await app.OrgUnitAsync(mine);
        var other = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        var inChild = (await (await writer.PostAsJsonAsync("/api/v1/events", Event(child), Ct)).ReadJsonAsync())["id"]!.GetValue<string>();
        var outside = (await (await writer.PostAsJsonAsync("/api/v1/events", Event(other), Ct)).ReadJsonAsync())["id"]!.GetValue<string>();

        using var bound = await app.ClientWithAsync(["audit:read"], orgUnit: mine);
        Assert.Single(await ItemsAsync(bound, "entity=events:" + inChild));
        Assert.Single(await ItemsAsync(bound, "entity=org-unit:" + child));
        Assert.Empty(await ItemsAsync(bound, "entity=events:" + outside));
        Assert.Empty(await ItemsAsync(bound, "entity=org-unit:" + other));

        var page = await ItemsAsync(bound, "limit=1000");
        Assert.All(page, e =>
        {
            var entity = e!["entity"]!.GetValue<string>();
            Assert.True(entity.StartsWith("event:", StringComparison.Ordinal) || entity.StartsWith("events:", StringComparison.Ordinal)
                || entity.StartsWith("org-unit:", StringComparison.Ordinal)
                || entity.StartsWith("api-key:", StringComparison.Ordinal) || entity.StartsWith("metric:", StringComparison.Ordinal)
                || entity.StartsWith("campaign:", StringComparison.Ordinal) || entity.StartsWith("period:", StringComparison.Ordinal), entity);
            Assert.NotEqual("events:" + outside, entity);
        });
    }

    [Fact]
    public async Task Key_entries_never_hold_the_secret_or_its_hash()
    {
        var (id, secret) = await app.CreateKeyAsync(["events:read"], orgUnit: "hedong");
        using (var admin = app.Admin())
            Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/api/v1/api-keys/{id}", Ct)).StatusCode);
        using var auditor = await app.ClientWithAsync(["audit:read"]);
        var entries = await ItemsAsync(auditor, "entity=api-key:" + id);

        Assert.Equal(["key.created", "key.revoked"], entries.Select(e => e!["action"]!.GetValue<string>()));
        Assert.Equal("hedong", entries[0]!["data"]!["orgUnit"]!.GetValue<string>());
        var text = entries.ToJsonString();
        Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexString(Tally.Api.Security.KeyStore.Hash(secret)), text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(Convert.ToBase64String(Tally.Api.Security.KeyStore.Hash(secret)), text, StringComparison.Ordinal);
    }
}
