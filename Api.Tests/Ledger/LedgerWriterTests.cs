using System.Net;
using System.Net.Http.Json;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Ledger;

/// <summary>Holds the writer at the start of a group and fails chosen commits, as the tests direct.</summary>
internal sealed class ScriptedLedgerFaults : ILedgerFaults, IDisposable
{
    private readonly ManualResetEventSlim _open = new(true);
    private int _commits;

    /// <summary>Released once for each group the writer takes while held.</summary>
    public SemaphoreSlim GroupsTaken { get; } = new(0);

    /// <summary>Given the 1-based number of the commit about to happen and its commands: true makes it fail.</summary>
    public Func<int, IReadOnlyList<LedgerCommand>, bool> FailCommit { get; set; } = (_, _) => false;


    public void Hold() => _open.Reset();

    public void Release() => _open.Set();

    public void BeforeGroup(IReadOnlyList<LedgerCommand> group)
    {
        // Only groups taken while held count: start-up's own commits (the bootstrap key) pass unseen.
        if (_open.IsSet)
            return;
        GroupsTaken.Release();
        // Bounded, so a failing test cannot hang the run.
        _open.Wait(TimeSpan.FromSeconds(30));
    }

    public void BeforeCommit(IReadOnlyList<LedgerCommand> group)
    {
        if (FailCommit(Interlocked.Increment(ref _commits), group))
            throw new IOException("Injected: the disk went away during COMMIT.");
    }

    public void Dispose()
    {
        _open.Set();
        _open.Dispose();
        GroupsTaken.Dispose();
    }
}

public sealed class LedgerWriterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(TallyApp App, ScriptedLedgerFaults Faults)> StartAsync(Dictionary<string, string?> settings)
    {
        var faults = new ScriptedLedgerFaults();
        var app = await TallyApp.StartAsync(settings, services => services.AddSingleton<ILedgerFaults>(faults));
        return (app, faults);
    }

    private static object Event(string note, string? externalId = null) => new
    {
        metric = "notices.issued", occurredOn = "2024-10-10", quantity = 2, orgUnit = "hedong", note, externalId,
    };

    private static async Task WaitForQueueDepthAsync(TallyApp app, int depth)
    {
        var writer = app.Services.GetRequiredService<LedgerWriter>();
        // At least: a key-usage flush may queue a command of its own beside the test's.
        for (var i = 0; i < 1000 && writer.QueueDepth < depth; i++)
            await Task.Delay(10, Ct);
        Assert.True(writer.QueueDepth >= depth, $"queue depth {writer.QueueDepth}, expected {depth}");
    }

    private static List<string> StoredNotes(TallyApp app)
    {
        using var db = app.OpenDatabase();
        return db.Query<string>("SELECT note FROM events ORDER BY id").ToList();
    }

    /// <summary>Recomputes the audit chain from the stored rows: contiguous seqs, each entry linked to and sealed over the last.</summary>
    private static void AssertAuditChainIntact(TallyApp app)
    {
        using var db = app.OpenDatabase();
        var previous = AuditChain.Genesis;
        var expectedSeq = 1L;
        foreach (var e in db.Query<AuditEntry>(
                     "SELECT seq, at, actor_key_id AS ActorKeyId, actor_name AS ActorName, action, entity, data, prev_hash AS PrevHash, hash FROM audit_log ORDER BY seq"))
        {
            Assert.Equal(expectedSeq++, e.Seq);
            Assert.Equal(previous, e.PrevHash);
            Assert.Equal(AuditChain.ComputeHash(e.PrevHash, e.Seq, e.At, e.ActorKeyId, e.ActorName, e.Action, e.Entity, e.Data), e.Hash);
            previous = e.Hash;
        }
    }

    [Fact]
    public async Task A_full_queue_makes_a_request_wait_briefly_then_answers_503_with_Retry_After_and_stores_nothing_of_it()
    {
        var (app, faults) = await StartAsync(new()
        {
            ["Tally:Ledger:QueueCapacity"] = "1", ["Tally:Ledger:QueueWait"] = "00:00:00.200",
        });
        await using var _ = app;
        using var __ = faults;
        using var client = app.Admin();

        var writer = app.Services.GetRequiredService<LedgerWriter>();

        // Fill the writer and its one-place queue directly (no key is used yet, so no key-usage flush can slip in).
        faults.Hold();
        var first = writer.SubmitAsync(new ScriptedCommand("first"), Ct);
        await faults.GroupsTaken.WaitAsync(Ct);          // the writer holds "first"
        var second = writer.SubmitAsync(new ScriptedCommand("second"), Ct);
        await WaitForQueueDepthAsync(app, 2);             // "second" fills the one place in the queue

        var refused = await client.PostAsJsonAsync("/api/v1/events", Event("refused"), Ct);

        await refused.AssertProblemAsync(503, "/problems/unavailable");
        Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "Retry-After is given in seconds");
        faults.Release();
        await first;
        await second;
        Assert.Equal(["first", "second"], StoredNotes(app));
    }

    [Fact]
    public async Task A_failed_commit_answers_503_stores_nothing_and_a_retry_with_the_same_externalId_succeeds()
    {
        var (app, faults) = await StartAsync([]);
        await using var _ = app;
        using var __ = faults;
        using var client = app.Admin();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/v1/events", Event("before"), Ct)).StatusCode);
        using (var db = app.OpenDatabase())
            Assert.Equal(0, db.ExecuteScalar<int>("SELECT count(*) FROM events WHERE note <> 'before'"));
        var auditBefore = AuditCount(app);

        faults.FailCommit = (_, _) => true;
        var failed = await client.PostAsJsonAsync("/api/v1/events", Event("lost", externalId: "retry-me"), Ct);
        var batch = await client.PostAsJsonAsync("/api/v1/events/batch",
            new { events = new[] { Event("lost-batch-1"), Event("lost-batch-2") } }, Ct);
        faults.FailCommit = (_, _) => false;

        await failed.AssertProblemAsync(503, "/problems/unavailable");
        Assert.NotNull(failed.Headers.RetryAfter);
        await batch.AssertProblemAsync(503, "/problems/unavailable");
        Assert.Equal(["before"], StoredNotes(app));
        Assert.Equal(auditBefore, AuditCount(app));

        var retried = await client.PostAsJsonAsync("/api/v1/events", Event("lost", externalId: "retry-me"), Ct);
        Assert.Equal(HttpStatusCode.Created, retried.StatusCode);
        Assert.Equal(["before", "lost"], StoredNotes(app));
        AssertAuditChainIntact(app);
    }

    [Fact]
    public async Task Failed_groups_fail_every_command_in_them_and_exactly_the_acknowledged_events_are_stored()
    {
        var (app, faults) = await StartAsync(new() { ["Tally:Ledger:MaxGroupWeight"] = "10" });
        await using var _ = app;
        using var __ = faults;
        using var client = app.Admin();

        faults.Hold();
        var blocker = client.PostAsJsonAsync("/api/v1/events", Event("blocker"), Ct);
        await faults.GroupsTaken.WaitAsync(Ct);
        var posts = new List<(string ExternalId, Task<HttpResponseMessage> Response)>();
        for (var i = 0; i < 50; i++)
        {
            var externalId = $"e-{i:00}";
            posts.Add((externalId, client.PostAsJsonAsync("/api/v1/events", Event("load", externalId), Ct)));
            await WaitForQueueDepthAsync(app, i + 2);    // queue order = the order posted
        }
        // After the blocker's commit the fifty go in groups of ten; fail the 3rd and 5th commits from here on.
        var commits = 0;
        var refusedInFailedGroups = 0;
        faults.FailCommit = (_, group) =>
        {
            var fail = ++commits is 3 or 5;
            if (fail)
                refusedInFailedGroups += group.Count(c => c is Tally.Api.Features.Events.RecordEventCommand);
            return fail;
        };
        faults.Release();
        Assert.Equal(HttpStatusCode.Created, (await blocker).StatusCode);

        var acknowledged = new HashSet<string>(StringComparer.Ordinal);
        var refused = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (externalId, task) in posts)
        {
            var response = await task;
            if (response.StatusCode == HttpStatusCode.Created)
                acknowledged.Add(externalId);
            else
            {
                await response.AssertProblemAsync(503, "/problems/unavailable");
                refused.Add(externalId);
            }
        }
        Assert.Equal(refusedInFailedGroups, refused.Count);
        Assert.InRange(refused.Count, 10, 20);  // two groups of (up to) ten; a key-usage flush may share a group
        Assert.Equal(50, acknowledged.Count + refused.Count);
        using var db = app.OpenDatabase();
        var stored = db.Query<string>("SELECT external_id FROM events WHERE note = 'load'").ToHashSet(StringComparer.Ordinal);
        Assert.Equal(acknowledged.Order(StringComparer.Ordinal), stored.Order(StringComparer.Ordinal));
        Assert.Equal((acknowledged.Count + 1) * 2, db.ExecuteScalar<long>("SELECT sum(value) FROM daily_rollups WHERE metric = 'notices.issued'"));
        AssertAuditChainIntact(app);
    }

    [Fact]
    public async Task A_constraint_violation_fails_its_command_alone_and_the_rest_of_the_group_commits()
    {
        var (app, faults) = await StartAsync([]);
        await using var _ = app;
        using var __ = faults;
        var writer = app.Services.GetRequiredService<LedgerWriter>();

        faults.Hold();
        var blocker = writer.SubmitAsync(new ScriptedCommand("blocker"), Ct);
        await faults.GroupsTaken.WaitAsync(Ct);
        var before = writer.SubmitAsync(new ScriptedCommand("before"), Ct);
        var broken = writer.SubmitAsync(new ScriptedCommand("broken", violateConstraint: true), Ct);
        var after = writer.SubmitAsync(new ScriptedCommand("after"), Ct);
        await WaitForQueueDepthAsync(app, 4);
        faults.Release();

        await blocker;
        await before;
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => broken);
        await after;
        Assert.Equal(["blocker", "before", "after"], StoredNotes(app));
        AssertAuditChainIntact(app);
        // The broken command's rollups went with it, the as-of ones (written when the group commits) included.
        using var db = app.OpenDatabase();
        foreach (var table in new[] { "daily_rollups", "asof_hour_rollups", "asof_unit_hour_rollups" })
            Assert.Equal((3L, 3L), db.QuerySingle<(long, long)>(
                $"SELECT sum(value), sum(events) FROM {table} WHERE metric = 'notices.issued' AND org_unit = 'hedong'"));
    }

    /// <summary>
    /// On PostgreSQL a command's writes whose answer nobody reads (its event row, rollups, audit entry) are held and sent
    /// with the next statement, which may be the next command's SAVEPOINT: when one of them fails, the command that wrote
    /// it has already ended, so the whole group is rolled back and answered 503, nothing of it stored, and a retry stores
    /// it. On SQLite each write runs at once, so the failure stays with its command, as any constraint violation does.
    /// </summary>
    [Fact]
    public async Task A_write_that_fails_after_its_command_ended_fails_its_whole_group_and_a_retry_stores_it()
    {
        var (app, faults) = await StartAsync([]);
        await using var _ = app;
        using var __ = faults;
        var writer = app.Services.GetRequiredService<LedgerWriter>();
        using (var db = app.OpenDatabase())
        {
            db.Execute(TestStore.OnPostgres
                ? """
                  CREATE FUNCTION refuse_broken() RETURNS trigger LANGUAGE plpgsql AS $$
                  BEGIN
                      IF NEW.note = 'broken' THEN RAISE EXCEPTION 'refused by the test' USING ERRCODE = '23514'; END IF;
                      RETURN NEW;
                  END $$;
                  CREATE TRIGGER refuse_broken BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_broken();
                  """
                : "CREATE TRIGGER refuse_broken BEFORE INSERT ON events WHEN NEW.note = 'broken' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;");
        }

        faults.Hold();
        var blocker = writer.SubmitAsync(new ScriptedCommand("blocker"), Ct);
        await faults.GroupsTaken.WaitAsync(Ct);
        var before = writer.SubmitAsync(new ScriptedCommand("before"), Ct);
        var broken = writer.SubmitAsync(new ScriptedCommand("broken"), Ct);
        var after = writer.SubmitAsync(new ScriptedCommand("after"), Ct);
        await WaitForQueueDepthAsync(app, 4);
        faults.Release();
        await blocker;

        if (TestStore.OnPostgres)
        {
            foreach (var refused in new[] { before, broken, after })
            {
                var problem = await Assert.ThrowsAsync<Tally.Api.Problems.ProblemException>(() => refused);
                Assert.Equal(503, problem.Problem.Status);
            }
            Assert.Equal(["blocker"], StoredNotes(app));
            Assert.Equal(HttpStatusCode.OK, (await app.Admin().GetAsync("/health/ready", Ct)).StatusCode);
            await writer.SubmitAsync(new ScriptedCommand("before"), Ct);
            await writer.SubmitAsync(new ScriptedCommand("after"), Ct);
        }
        else
        {
            await before;
            await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => broken);
            await after;
        }
        Assert.Equal(["blocker", "before", "after"], StoredNotes(app));
        AssertAuditChainIntact(app);
        using var check = app.OpenDatabase();
        Assert.Equal((3L, 3L), check.QuerySingle<(long, long)>(
            "SELECT sum(value), sum(events) FROM daily_rollups WHERE metric = 'notices.issued' AND org_unit = 'hedong'"));
        Assert.Equal(3L, check.ExecuteScalar<long>(
            "SELECT count(*) FROM audit_log WHERE action = 'events.created'"));
    }

    private static long AuditCount(TallyApp app)
    {
        using var db = app.OpenDatabase();
        return db.ExecuteScalar<long>("SELECT count(*) FROM audit_log");
    }

    /// <summary>Records an event with the given note; optionally then breaks a constraint, as a buggy command would.</summary>
    private sealed class ScriptedCommand(string note, bool violateConstraint = false) : LedgerCommand<string>
    {
        protected override string Run(LedgerContext context)
        {
            var outcome = EventLedger.Record(context,
                new NewEvent("notices.issued", new DateOnly(2024, 10, 10), 1, "hedong", null, [], null, note),
                new Recorder(Actor.System, "tests"), _ => true);
            if (violateConstraint)
                context.Connection.Execute("INSERT INTO events (id, metric, occurred_on, quantity, org_unit, source, recorded_at) VALUES (@Id, 'notices.issued', '2024-10-10', 1, 'hedong', 'tests', 'x')",
                    new { outcome.Event.Id }, context.Transaction);
            return outcome.Event.Id;
        }
    }
}
