using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Audit;

/// <summary>
/// Tampering with the events of a Merkle entry (a batch), in the database file behind the server's back: a changed row
/// breaks its proof and the entry's root, and a removed, inserted or re-assigned row or a reordered chain is named.
/// </summary>
public sealed class MerkleTamperTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private sealed record Ledger(TallyApp App, List<string> Batch, string Single, long BatchSeq, HttpClient Auditor) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Auditor.Dispose();
            await App.DisposeAsync();
        }
    }

    private static async Task<Ledger> StartAsync()
    {
        var app = await TallyApp.StartAsync(new Dictionary<string, string?>());
        using var admin = app.Admin();
        var response = await admin.PostAsJsonAsync("/api/v1/events/batch", new
        {
            events = Enumerable.Range(1, 6).Select(i => new { metric = "notices.issued", occurredOn = $"2024-02-0{i}", quantity = i, orgUnit = "hedong", note = $"第{i}批" }),
        }, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var batch = (await response.ReadJsonAsync())["items"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList();
        var single = await admin.RecordAsync("notices.issued", "2024-03-01", 9, "hedong");
        using var db = app.OpenDatabase();
        var seq = db.ExecuteScalar<long>("SELECT audit_seq FROM events WHERE id = @id", new { id = batch[0] });
        return new Ledger(app, batch, single, seq, await app.ClientWithAsync(["audit:read"]));
    }

    private static async Task<JsonNode> AssertBrokenAsync(Ledger ledger, long? seq, string reasonPart)
    {
        var result = await ledger.Auditor.GetJsonAsync("/api/v1/audit/verify");
        Assert.False(result["valid"]!.GetValue<bool>(), result.ToJsonString());
        Assert.Equal(seq, result["firstInvalidSeq"]?.GetValue<long>());
        Assert.Contains(reasonPart, result["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        return result;
    }

    [Fact]
    public async Task A_proof_fails_once_its_row_or_a_sibling_row_is_changed_and_verify_names_the_entry()
    {
        await using var ledger = await StartAsync();
        var before = await ledger.Auditor.GetJsonAsync($"/api/v1/events/{ledger.Batch[2]}/proof");
        Assert.Null(IndependentProof.Check(before));
        // The proof's entry lies in the chain: its hash is a knownHead the chain contains.
        var inChain = await ledger.Auditor.GetJsonAsync("/api/v1/audit/verify?knownHead=" + before["entry"]!["hash"]!.GetValue<string>());
        Assert.True(inChain["valid"]!.GetValue<bool>(), inChain.ToJsonString());
        using var db = ledger.App.OpenDatabase();
        Assert.Equal(1, db.Execute("UPDATE events SET quantity = 300 WHERE id = @id", new { id = ledger.Batch[2] }));

        var changed = await ledger.Auditor.GetJsonAsync($"/api/v1/events/{ledger.Batch[2]}/proof");
        Assert.Equal(300, changed["event"]!["quantity"]!.GetValue<long>());
        Assert.Equal("the path does not lead to the entry's root", IndependentProof.Check(changed));
        // A sibling's proof folds through the changed leaf too.
        Assert.NotNull(IndependentProof.Check(await ledger.Auditor.GetJsonAsync($"/api/v1/events/{ledger.Batch[3]}/proof")));
        // The other command's entry is untouched: its event still proves.
        Assert.Null(IndependentProof.Check(await ledger.Auditor.GetJsonAsync($"/api/v1/events/{ledger.Single}/proof")));

        await AssertBrokenAsync(ledger, ledger.BatchSeq, "no longer hash to its root");
    }

    [Fact]
    public async Task A_removed_row_is_named_by_its_entry()
    {
        await using var ledger = await StartAsync();
        using var db = ledger.App.OpenDatabase();
        db.Execute("DELETE FROM events WHERE id = @id", new { id = ledger.Batch[3] });
        var result = await AssertBrokenAsync(ledger, ledger.BatchSeq, "1 of them are gone from the events table");
        Assert.Contains("records 6 event(s)", result["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_inserted_row_is_named_whether_it_names_the_entry_or_not()
    {
        await using var ledger = await StartAsync();
        using var db = ledger.App.OpenDatabase();
        var forged = ledger.Batch[2] + "0";
        const string Copy =
            """
            INSERT INTO events (id, metric, occurred_on, quantity, org_unit, campaign, dimensions, external_id, note, source, recorded_at, audit_seq)
            SELECT @forged, metric, occurred_on, 50, org_unit, campaign, dimensions, NULL, note, source, recorded_at, @seq
            FROM events WHERE id = @id
            """;
        db.Execute(Copy, new { forged, id = ledger.Batch[2], seq = ledger.BatchSeq });
        await AssertBrokenAsync(ledger, ledger.BatchSeq, "rows were added in the database file");

        db.Execute("UPDATE events SET audit_seq = NULL WHERE id = @forged", new { forged });
        var unnamed = await AssertBrokenAsync(ledger, ledger.BatchSeq, "lies among the events audit entry");
        Assert.Equal(forged, unnamed["firstInvalidEventId"]!.GetValue<string>());

        // After every entry's events: it names no entry that includes it.
        db.Execute("UPDATE events SET id = 'evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ' WHERE id = @forged", new { forged });
        var appended = await ledger.Auditor.GetJsonAsync("/api/v1/audit/verify");
        Assert.False(appended["valid"]!.GetValue<bool>());
        Assert.Equal("evt_ZZZZZZZZZZZZZZZZZZZZZZZZZZ", appended["firstInvalidEventId"]!.GetValue<string>());
        Assert.Contains("no events.created entry includes it", appended["reason"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_row_moved_to_another_entry_and_a_reordered_chain_are_named()
    {
        await using var ledger = await StartAsync();
        using var db = ledger.App.OpenDatabase();
        var singleSeq = db.ExecuteScalar<long>("SELECT audit_seq FROM events WHERE id = @id", new { id = ledger.Single });
        db.Execute("UPDATE events SET audit_seq = @singleSeq WHERE id = @id", new { singleSeq, id = ledger.Batch[5] });
        await AssertBrokenAsync(ledger, ledger.BatchSeq, "lies among the events audit entry");
        db.Execute("UPDATE events SET audit_seq = @seq WHERE id = @id", new { seq = ledger.BatchSeq, id = ledger.Batch[5] });
        Assert.True((await ledger.Auditor.GetJsonAsync("/api/v1/audit/verify"))["valid"]!.GetValue<bool>());

        // The two commands' entries swapped in the chain.
        db.Execute(
            """
            UPDATE audit_log SET seq = -1 WHERE seq = @a;
            UPDATE audit_log SET seq = @a WHERE seq = @b;
            UPDATE audit_log SET seq = @b WHERE seq = -1;
            """, new { a = ledger.BatchSeq, b = singleSeq });
        await AssertBrokenAsync(ledger, ledger.BatchSeq, "does not follow entry");
    }
}
