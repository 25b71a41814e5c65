using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Audit;

/// <summary>
/// GET /events/{id}/proof, checked by <see cref="IndependentProof"/> (an auditor's own hashing, no server code): every
/// event of a single POST, a batch, a batch past one stored chunk (1024 events) and an import proves into its entry.
/// </summary>
public sealed class EventProofTests(TallyApp app)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static object Item(string unit, int i) => new
    {
        metric = "leads.handled", occurredOn = "2024-05-01", quantity = i + 1, orgUnit = unit,
        dimensions = new { kind = i % 2 == 0 ? "fraud" : "infringement" }, externalId = $"p-{i}",
        note = i % 3 == 0 ? $"联动处置网络诈骗线索 {i} \"引号\" \\ <b>" : null,
    };

    private static async Task<List<string>> BatchAsync(HttpClient client, string unit, int count)
    {
        var response = await client.PostAsJsonAsync("/api/v1/events/batch", new { events = Enumerable.Range(0, count).Select(i => Item(unit, i)) }, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.ReadJsonAsync())["items"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList();
    }

    [Fact]
    public async Task A_single_post_proves_with_an_empty_path_into_its_own_entry()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write", "events:read"]);
        var posted = await writer.PostAsJsonAsync("/api/v1/events",
            new { metric = "notices.issued", occurredOn = "2024-05-02", quantity = 4, orgUnit = unit, note = "河东区 😀 \"清朗\"\n" }, Ct);
        Assert.Equal(HttpStatusCode.Created, posted.StatusCode);
        var id = (await posted.ReadJsonAsync())["id"]!.GetValue<string>();
        using var auditor = await app.ClientWithAsync(["audit:read"]);

        var proof = await auditor.GetJsonAsync($"/api/v1/events/{id}/proof");

        Assert.Null(IndependentProof.Check(proof));
        Assert.Equal((0L, 1L), (proof["index"]!.GetValue<long>(), proof["size"]!.GetValue<long>()));
        Assert.Empty(proof["path"]!.AsArray());
        Assert.Equal(IndependentProof.LeafFields.Order(StringComparer.Ordinal), proof["event"]!.AsObject().Select(p => p.Key));
        var shown = await writer.GetJsonAsync($"/api/v1/events/{id}");
        Assert.Equal(shown["auditSeq"]!.GetValue<long>(), proof["auditSeq"]!.GetValue<long>());
        foreach (var field in IndependentProof.LeafFields)
            Assert.True(JsonNode.DeepEquals(shown[field], proof["event"]![field]), field);
        // (That the entry lies in the chain, by knownHead, is checked on an app of its own: MerkleTamperTests. Tests of
        // this shared app edit its file, so verifying it whole here would meet their edits.)
    }

    [Fact]
    public async Task Every_event_of_a_batch_proves_into_the_batch_entry_in_id_order()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        var ids = await BatchAsync(writer, unit, 37);
        using var auditor = await app.ClientWithAsync(["audit:read"]);

        var roots = new HashSet<string>();
        for (var i = 0; i < ids.Count; i++)
        {
            var proof = await auditor.GetJsonAsync($"/api/v1/events/{ids[i]}/proof");
            Assert.Null(IndependentProof.Check(proof));
            Assert.Equal((i, 37L), (proof["index"]!.GetValue<long>(), proof["size"]!.GetValue<long>()));
            roots.Add(proof["entry"]!["data"]!["root"]!.GetValue<string>());
        }
        Assert.Single(roots);
    }

    [Fact]
    public async Task Events_of_a_command_past_one_chunk_prove_through_the_stored_chunk_hashes()
    {
        var unit = await app.OrgUnitAsync();
        using var writer = await app.ClientWithAsync(["events:write"]);
        var ids = await BatchAsync(writer, unit, 2500);
        using var auditor = await app.ClientWithAsync(["audit:read"]);

        foreach (var i in new[] { 0, 1, 1023, 1024, 2047, 2048, 2499 })
        {
            var proof = await auditor.GetJsonAsync($"/api/v1/events/{ids[i]}/proof");
            Assert.Null(IndependentProof.Check(proof));
            Assert.Equal((i, 2500L), (proof["index"]!.GetValue<long>(), proof["size"]!.GetValue<long>()));
        }
        using var db = app.OpenDatabase();
        var seq = db.ExecuteScalar<long>("SELECT audit_seq FROM events WHERE id = @id", new { id = ids[0] });
        Assert.Equal(3, db.ExecuteScalar<long>("SELECT count(*) FROM audit_chunks WHERE seq = @seq", new { seq }));
    }

    [Fact]
    public async Task An_import_is_one_entry_and_its_events_prove_into_it()
    {
        var unit = await app.OrgUnitAsync();
        using var importer = await app.ClientWithAsync(["events:write"]);
        var csv = "metric,occurredOn,quantity,orgUnit,note\n" + string.Concat(Enumerable.Range(1, 12).Select(i => $"notices.issued,2024-04-{i:D2},{i},{unit},第{i}行\n"));
        using var body = new ByteArrayContent(System.Text.Encoding.UTF8.GetBytes(csv));
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/csv");
        var started = await importer.PostAsync("/api/v1/imports?name=" + Unique.Code("proofs"), body, Ct);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var location = started.Headers.Location!.ToString();
        // Polled as the import tests poll, with a deadline far past any small import on a busy machine.
        var deadline = DateTime.UtcNow.AddMinutes(5);
        JsonNode import;
        while ((import = await importer.GetJsonAsync(location))["status"]!.GetValue<string>() is "queued" or "running")
        {
            Assert.True(DateTime.UtcNow < deadline, import.ToJsonString());
            await Task.Delay(20, Ct);
        }
        Assert.Equal("succeeded", import["status"]!.GetValue<string>());

        using var db = app.OpenDatabase();
        var ids = db.Query<string>("SELECT id FROM events WHERE org_unit = @unit ORDER BY id", new { unit }).ToList();
        Assert.Equal(12, ids.Count);
        using var auditor = await app.ClientWithAsync(["audit:read"]);
        foreach (var id in ids)
        {
            var proof = await auditor.GetJsonAsync($"/api/v1/events/{id}/proof");
            Assert.Null(IndependentProof.Check(proof));
            Assert.Equal(12, proof["size"]!.GetValue<long>());
        }
    }

    [Fact]
    public async Task An_unknown_event_has_no_proof()
    {
        using var auditor = await app.ClientWithAsync(["audit:read"]);
        await (await auditor.GetAsync("/api/v1/events/evt_nothing/proof", Ct)).AssertProblemAsync(404, "/problems/not-found");
    }
}
