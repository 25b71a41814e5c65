using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Features.Imports;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Ledger;

/// <summary>The one event-write policy, seen from each door it is called by.</summary>
public sealed class EventWritePolicyTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task An_idempotency_conflict_reads_the_same_from_a_post_a_batch_item_and_an_import_row()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        var externalId = $"{unit}-x";
        var id = await client.RecordAsync("notices.issued", "2024-06-01", 1, unit, externalId: externalId);
        var expected = $"externalId '{externalId}' was already used by this source for event {id} with other content.";
        var other = new { metric = "notices.issued", occurredOn = "2024-06-01", quantity = 2, orgUnit = unit, externalId };

        var post = await (await client.PostAsJsonAsync("/api/v1/events", other, Ct))
            .AssertProblemAsync(409, "/problems/idempotency-conflict");
        var batch = await (await client.PostAsJsonAsync("/api/v1/events/batch", new { events = new[] { other } }, Ct))
            .AssertProblemAsync(409, "/problems/idempotency-conflict");
        var import = await ImportAsync(client,
            $"metric,occurredOn,quantity,orgUnit,externalId\nnotices.issued,2024-06-01,2,{unit},{externalId}\n");

        Assert.Equal(expected, post["detail"]!.GetValue<string>());
        Assert.Equal([expected], post["errors"]!["externalId"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.Equal(expected, batch["detail"]!.GetValue<string>());
        Assert.Equal([expected], batch["errors"]!["events[0].externalId"]!.AsArray().Select(m => m!.GetValue<string>()));
        Assert.Equal("failed", import["status"]!.GetValue<string>());
        var error = Assert.Single(import["errors"]!.AsArray());
        Assert.Equal("externalId", error!["field"]!.GetValue<string>());
        Assert.StartsWith(expected, error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        using var db = app.OpenDatabase();
        Assert.Equal([(id, 1L)], db.Query<(string, long)>(
            "SELECT id, quantity FROM events WHERE org_unit = @unit", new { unit }).ToList());
    }

    [Fact]
    public async Task The_same_content_again_is_unchanged_from_a_post_a_batch_item_an_upsert_and_an_import_row()
    {
        var unit = await app.OrgUnitAsync();
        using var client = await app.ClientWithAsync(["events:write", "events:read"]);
        var externalId = $"{unit}-same";
        var id = await client.RecordAsync("notices.issued", "2024-06-01", 3, unit, externalId: externalId);
        var same = new { metric = "notices.issued", occurredOn = "2024-06-01", quantity = 3, orgUnit = unit, externalId };

        var post = await client.PostAsJsonAsync("/api/v1/events", same, Ct);
        var batch = await (await client.PostAsJsonAsync("/api/v1/events/batch", new { events = new[] { same } }, Ct)).ReadJsonAsync();
        var upsert = await client.PutAsJsonAsync($"/api/v1/events/external/{externalId}",
            new { metric = "notices.issued", occurredOn = "2024-06-01", quantity = 3, orgUnit = unit }, Ct);
        var import = await ImportAsync(client,
            $"metric,occurredOn,quantity,orgUnit,externalId\nnotices.issued,2024-06-01,3,{unit},{externalId}\n");

        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        Assert.Equal(id, (await post.ReadJsonAsync())["id"]!.GetValue<string>());
        Assert.Equal("unchanged", batch["items"]![0]!["status"]!.GetValue<string>());
        Assert.Equal(id, batch["items"]![0]!["id"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, upsert.StatusCode);
        Assert.Equal("unchanged", (await upsert.ReadJsonAsync())["status"]!.GetValue<string>());
        Assert.Equal("succeeded", import["status"]!.GetValue<string>());
        Assert.Equal(1, import["summary"]!["unchanged"]!.GetValue<int>());
        using var db = app.OpenDatabase();
        Assert.Equal(1, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE org_unit = @unit", new { unit }));
    }

    [Fact]
    public void Import_rows_whose_content_fingerprints_collide_are_not_unchanged()
    {
        var earlier = Event(quantity: 1);
        var later = Event(quantity: 2);
        var ids = new FileExternalIds(2);
        // As if the earlier row had hashed to the later row's fingerprint: the head carries the later one's.
        var collided = new FileHead(ids.Fingerprint(later), 1, Offset: 0);

        Assert.False(FileExternalIds.SameContent(collided, ids.Fingerprint(later), later, _ => earlier));
        Assert.True(FileExternalIds.SameContent(new FileHead(ids.Fingerprint(earlier), 1, 0), ids.Fingerprint(Event(quantity: 1)),
            Event(quantity: 1), _ => earlier));
    }

    [Fact]
    public void Inputs_differing_in_any_one_field_of_content_are_not_the_same_content()
    {
        var one = Event();
        Assert.True(one.SameContentAs(Event()));
        Assert.False(one.SameContentAs(Event(metric: "reports.filed")));
        Assert.False(one.SameContentAs(Event(day: new DateOnly(2024, 6, 2))));
        Assert.False(one.SameContentAs(Event(quantity: 2)));
        Assert.False(one.SameContentAs(Event(orgUnit: "other")));
        Assert.False(one.SameContentAs(Event(campaign: "c")));
        Assert.False(one.SameContentAs(Event(dimensions: new() { ["kind"] = "a" })));
        Assert.False(one.SameContentAs(Event(note: "n")));
        // The externalId names the event; it is not content.
        Assert.True(one.SameContentAs(Event() with { ExternalId = "other" }));
    }

    [Fact]
    public void A_spooled_row_is_read_back_at_its_offset_exactly()
    {
        var path = Path.Combine(Path.GetTempPath(), $"tally-spool-{Guid.NewGuid():N}.rows");
        try
        {
            using (var writer = new ImportSpoolWriter(path))
            {
                writer.Write(2, Event(quantity: 1));
                writer.Write(3, Event(quantity: 2, dimensions: new() { ["kind"] = "汉字" }, note: "n"));
            }
            var rows = ImportSpool.Read(path).ToList();
            using var reader = ImportSpool.Open(path);

            Assert.Equal([2, 3], rows.Select(r => r.Number));
            Assert.True(ImportSpool.ReadAt(reader, rows[1].Offset).SameContentAs(rows[1].Event));
            Assert.True(ImportSpool.ReadAt(reader, rows[0].Offset).SameContentAs(rows[0].Event));
            Assert.False(rows[0].Event.SameContentAs(rows[1].Event));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static NewEvent Event(string metric = "notices.issued", DateOnly? day = null, long quantity = 1,
        string orgUnit = "hedong", string? campaign = null, SortedDictionary<string, string>? dimensions = null,
        string? note = null) =>
        new(metric, day ?? new DateOnly(2024, 6, 1), quantity, orgUnit, campaign,
            dimensions ?? new SortedDictionary<string, string>(StringComparer.Ordinal), "x-1", note);

    private static async Task<JsonNode> ImportAsync(HttpClient client, string csv)
    {
        using var content = new ByteArrayContent(Encoding.UTF8.GetBytes(csv));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("text/csv");
        var accepted = await (await client.PostAsync("/api/v1/imports", content, Ct)).ReadJsonAsync();
        var id = accepted["id"]!.GetValue<string>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var import = await (await client.GetAsync($"/api/v1/imports/{id}", Ct)).ReadJsonAsync();
            if (import["status"]!.GetValue<string>() is "succeeded" or "failed")
                return import;
            await Task.Delay(20, Ct);
        }
        throw new TimeoutException($"Import {id} did not finish within 60 s.");
    }
}
