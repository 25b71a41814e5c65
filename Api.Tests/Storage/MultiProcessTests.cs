using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Dapper;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Storage;

/// <summary>
/// Two Tally processes on one PostgreSQL database, as behind a load balancer: the real program twice (dotnet
/// Tally.Api.dll on two loopback ports), driven at once with single writes, batches, upserts of the same externalIds
/// through both, voids and catalog changes; one is killed (SIGKILL) in the middle of the load and started again. Then
/// every acknowledged write is stored exactly once, no batch is torn, totals equal a recomputation from the events, the
/// audit chain is one valid chain, and what one process changed (a key, an org unit, a lock) the other honours on its
/// next request. PostgreSQL only (a SQLite file has one process).
/// </summary>
[Collection(nameof(SeparateApps))]
public sealed class MultiProcessTests
{
    private const string AdminKey = "tly_multi-process-admin-key-0123456789abcdefghijkl";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Two_processes_keep_one_ledger_through_concurrent_writes_and_a_kill()
    {
        if (!TestStore.OnPostgres)
            Assert.Skip("PostgreSQL only: one SQLite file is served by one process");
        var database = TestStore.NewPostgresDatabase();
        try
        {
            await RunAsync(database);
        }
        finally
        {
            TestStore.DropPostgresDatabase(database);
        }
    }

    private static async Task RunAsync(string database)
    {
        await using var a = await TallyProcess.StartAsync(database);
        await using var b = await TallyProcess.StartAsync(database);
        using var adminA = a.Client(AdminKey);
        using var adminB = b.Client(AdminKey);

        // What one process changes, the other honours on its very next request.
        var keyResponse = await adminA.PostAsJsonAsync("/api/v1/api-keys",
            new { name = "writer", source = "multi", scopes = new[] { "events:write", "events:read", "totals:read" } }, Ct);
        Assert.Equal(HttpStatusCode.Created, keyResponse.StatusCode);
        var key = await keyResponse.ReadJsonAsync();
        var writerSecret = key["key"]!.GetValue<string>();
        using (var writerB = b.Client(writerSecret))
            Assert.Equal(HttpStatusCode.OK, (await writerB.GetAsync("/api/v1/events?metric=notices.issued", Ct)).StatusCode);

        var unit = "mp-" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(HttpStatusCode.Created, (await adminA.PostAsJsonAsync("/api/v1/org-units",
            new { code = unit, name = "多进程测试单位", parent = "hedong" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await adminB.PostAsJsonAsync("/api/v1/events",
            new { metric = "notices.issued", occurredOn = "2025-01-02", quantity = 1, orgUnit = unit, externalId = "first" }, Ct)).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await adminB.PostAsJsonAsync("/api/v1/periods/2019/lock", new { reason = "closed" }, Ct)).StatusCode);
        await (await adminA.PostAsJsonAsync("/api/v1/events",
            new { metric = "notices.issued", occurredOn = "2019-05-02", quantity = 1, orgUnit = unit }, Ct))
            .AssertProblemAsync(409, "/problems/period-locked");

        var revoke = await adminA.DeleteAsync($"/api/v1/api-keys/{key["id"]!.GetValue<string>()}", Ct);
        Assert.True(revoke.IsSuccessStatusCode, await revoke.Content.ReadAsStringAsync(Ct));
        using (var revokedB = b.Client(writerSecret))
            Assert.Equal(HttpStatusCode.Unauthorized, (await revokedB.GetAsync("/api/v1/events", Ct)).StatusCode);

        // The load: writers alternate between the processes; B is killed while they run and started again.
        var load = new Load(unit);
        using var stop = new CancellationTokenSource();
        var clients = new[] { a, b };
        var writers = Enumerable.Range(0, 6).Select(w => Task.Run(() => load.WriteAsync(w, clients, stop.Token), Ct)).ToArray();
        await load.WaitForAcknowledgedAsync(150);
        b.Kill();
        await load.WaitForAcknowledgedAsync(load.Acknowledged + 100);
        await b.RestartAsync();
        await load.WaitForAcknowledgedAsync(load.Acknowledged + 150);
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        Assert.True(load.Refused == 0, $"{load.Refused} writes were refused with a 4xx: {load.FirstRefusal}");
        Assert.True(load.Created.Count > 20 && !load.AcknowledgedBatches.IsEmpty && !load.Voided.IsEmpty,
            $"the load wrote {load.Created.Count} singles, {load.AcknowledgedBatches.Count} batches, {load.Voided.Count} voids");

        await using var db = TestStore.Open(database);
        // Every acknowledged event is stored once, as acknowledged.
        var stored = (await db.QueryAsync<(string Id, string? ExternalId, long Quantity, string? VoidedAt, string? SupersededBy)>(
                "SELECT id, external_id, quantity, voided_at, superseded_by FROM events WHERE org_unit = @unit", new { unit }))
            .ToDictionary(e => e.Id);
        foreach (var (id, quantity) in load.Created)
            Assert.True(stored.TryGetValue(id, out var row) && row.Quantity == quantity, $"acknowledged event {id} is not stored as acknowledged");
        // An externalId has one head, whichever process each of its writes went through.
        var heads = stored.Values.Where(e => e.ExternalId is not null && e.SupersededBy is null)
            .GroupBy(e => e.ExternalId!).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.Empty(heads);
        foreach (var externalId in load.AcknowledgedExternalIds)
            Assert.Contains(stored.Values, e => e.ExternalId == externalId);
        // A batch is whole or absent, acknowledged or not (one killed mid-commit included).
        foreach (var (batch, size) in load.Batches)
        {
            var count = stored.Values.Count(e => e.ExternalId?.StartsWith(batch + "-", StringComparison.Ordinal) == true);
            Assert.True(count == 0 || count == size, $"batch {batch} is torn: {count} of {size} items stored");
            if (load.AcknowledgedBatches.Contains(batch))
                Assert.Equal(size, count);
        }
        foreach (var id in load.Voided)
            Assert.NotNull(stored[id].VoidedAt);

        // Totals through either process equal a recomputation from the events.
        var expected = stored.Values.Where(e => e.VoidedAt is null).Sum(e => e.Quantity);
        foreach (var process in clients)
        {
            using var admin = process.Client(AdminKey);
            var totals = await admin.GetJsonAsync($"/api/v1/totals?year=2025&orgUnit={unit}&metric=notices.issued");
            var value = totals["rows"]!.AsArray().Sum(i => i!["value"]!.GetValue<long>());
            Assert.Equal(expected, value);
            // One chain: each process verifies the whole ledger (entries, events, their Merkle roots and the rollups).
            var verified = await admin.GetJsonAsync("/api/v1/audit/verify");
            Assert.True(verified["valid"]!.GetValue<bool>(), verified.ToJsonString());
        }
        var seqs = (await db.QueryAsync<long>("SELECT seq FROM audit_log ORDER BY seq")).ToList();
        Assert.Equal(Enumerable.Range(1, seqs.Count).Select(i => (long)i), seqs);
    }

    /// <summary>Writes of every kind, each recorded as acknowledged only on a 2xx.</summary>
    private sealed class Load(string unit)
    {
        private int _acknowledged;
        private int _refused;
        public ConcurrentDictionary<string, long> Created { get; } = new();
        public ConcurrentBag<string> AcknowledgedExternalIds { get; } = [];
        public ConcurrentDictionary<string, int> Batches { get; } = new();
        public ConcurrentBag<string> AcknowledgedBatches { get; } = [];
        public ConcurrentBag<string> Voided { get; } = [];
        public int Acknowledged => Volatile.Read(ref _acknowledged);
        public int Refused => Volatile.Read(ref _refused);
        public string? FirstRefusal { get; private set; }

        public async Task WaitForAcknowledgedAsync(int count)
        {
            var deadline = Stopwatch.StartNew();
            while (Acknowledged < count)
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(2), $"only {Acknowledged} of {count} writes acknowledged");
                await Task.Delay(20, Ct);
            }
        }

        public async Task WriteAsync(int writer, TallyProcess[] processes, CancellationToken stop)
        {
            var random = new Random(writer);
            var clients = processes.Select(p => p.Client(AdminKey)).ToArray();
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var client = clients[(writer + i) % clients.Length];
                var other = clients[(writer + i + 1) % clients.Length];
                try
                {
                    switch (random.Next(4))
                    {
                        case 0:
                            await SingleAsync(client, other, $"s-{writer}-{i}", random.Next(1, 50));
                            break;
                        case 1:
                            await BatchAsync(client, $"b-{writer}-{i}", random.Next(2, 20));
                            break;
                        case 2:
                            // The same externalId and content through both processes: one event.
                            var shared = $"u-{random.Next(30)}";
                            await UpsertAsync(client, shared, 7);
                            await UpsertAsync(other, shared, 7);
                            break;
                        default:
                            await VoidOneAsync(client);
                            break;
                    }
                }
                catch (HttpRequestException)
                {
                    // The process was killed under the request: not acknowledged, so nothing is asserted of it.
                }
                catch (TaskCanceledException) when (!stop.IsCancellationRequested)
                {
                }
            }
            foreach (var client in clients)
                client.Dispose();
        }

        private async Task SingleAsync(HttpClient client, HttpClient retry, string externalId, long quantity)
        {
            var body = new { metric = "notices.issued", occurredOn = "2025-03-04", quantity, orgUnit = unit, externalId };
            var response = await client.PostAsJsonAsync("/api/v1/events", body, Ct);
            if (!await AcknowledgedAsync(response))
                return;
            var id = (await response.ReadJsonAsync())["id"]!.GetValue<string>();
            Created[id] = quantity;
            AcknowledgedExternalIds.Add(externalId);
            // The client retries through the other process (its answer was lost, say): the same event, not a second one.
            var again = await retry.PostAsJsonAsync("/api/v1/events", body, Ct);
            if (await AcknowledgedAsync(again))
                Assert.Equal(id, (await again.ReadJsonAsync())["id"]!.GetValue<string>());
        }

        private async Task BatchAsync(HttpClient client, string batch, int size)
        {
            Batches[batch] = size;
            var events = new JsonArray([.. Enumerable.Range(0, size).Select(n => (JsonNode)new JsonObject
            {
                ["metric"] = "notices.issued", ["occurredOn"] = "2025-04-05", ["quantity"] = 1, ["orgUnit"] = unit,
                ["externalId"] = $"{batch}-{n}",
            })]);
            var response = await client.PostAsJsonAsync("/api/v1/events/batch", new JsonObject { ["events"] = events }, Ct);
            if (await AcknowledgedAsync(response, size))
                AcknowledgedBatches.Add(batch);
        }

        private async Task UpsertAsync(HttpClient client, string externalId, long quantity)
        {
            var response = await client.PutAsJsonAsync($"/api/v1/events/external/{externalId}",
                new { metric = "notices.issued", occurredOn = "2025-05-06", quantity, orgUnit = unit }, Ct);
            if (await AcknowledgedAsync(response))
                AcknowledgedExternalIds.Add(externalId);
        }

        private async Task VoidOneAsync(HttpClient client)
        {
            var candidate = Created.Keys.FirstOrDefault(id => !Voided.Contains(id));
            if (candidate is null)
                return;
            var response = await client.PostAsJsonAsync($"/api/v1/events/{candidate}/void", new { reason = "重复填报" }, Ct);
            // A second void of the same event (two writers chose it) is a 409 of its own: not a refusal of the load.
            if (response.StatusCode == HttpStatusCode.Conflict)
                return;
            if (await AcknowledgedAsync(response))
                Voided.Add(candidate);
        }

        private async Task<bool> AcknowledgedAsync(HttpResponseMessage response, int weight = 1)
        {
            if (response.IsSuccessStatusCode)
            {
                Interlocked.Add(ref _acknowledged, weight);
                return true;
            }
            // 503 while a process stops or its database is busy is a retryable answer, never a wrong one.
            if ((int)response.StatusCode >= 500)
                return false;
            if (Interlocked.Increment(ref _refused) == 1)
                FirstRefusal = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}";
            return false;
        }
    }

    /// <summary>The program itself, on a loopback port of its own, until killed or disposed.</summary>
    private sealed class TallyProcess : IAsyncDisposable
    {
        private readonly string _database;
        private readonly int _port;
        private Process? _process;
        private readonly ConcurrentQueue<string> _output = new();

        private TallyProcess(string database, int port)
        {
            _database = database;
            _port = port;
        }

        public static async Task<TallyProcess> StartAsync(string database)
        {
            var process = new TallyProcess(database, FreePort());
            await process.RestartAsync();
            return process;
        }

        public HttpClient Client(string key)
        {
            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}/"), Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
            client.DefaultRequestHeaders.AcceptLanguage.ParseAdd("en");
            return client;
        }

        public async Task RestartAsync()
        {
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory,
            };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tally.Api.dll"));
            start.ArgumentList.Add("--urls");
            start.ArgumentList.Add($"http://127.0.0.1:{_port}");
            start.Environment["ConnectionStrings__Tally"] = _database;
            start.Environment["Tally__BootstrapAdminKey"] = AdminKey;
            start.Environment["Tally__RateLimit__PermitsPerSecond"] = "100000";
            start.Environment["Tally__RateLimit__Burst"] = "100000";
            _process = Process.Start(start)!;
            _process.OutputDataReceived += (_, e) => Keep(e.Data);
            _process.ErrorDataReceived += (_, e) => Keep(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            using var probe = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_port}/") };
            var waited = Stopwatch.StartNew();
            while (true)
            {
                Assert.False(_process.HasExited, "Tally exited at start: " + string.Join('\n', _output));
                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), "Tally did not become ready: " + string.Join('\n', _output));
                try
                {
                    if ((await probe.GetAsync("health/ready", Ct)).StatusCode == HttpStatusCode.OK)
                        return;
                }
                catch (HttpRequestException)
                {
                }
                await Task.Delay(100, Ct);
            }
        }

        /// <summary>SIGKILL: no shutdown, no flush; whatever it had in flight is cut off.</summary>
        public void Kill()
        {
            _process!.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        private void Keep(string? line)
        {
            if (line is null)
                return;
            _output.Enqueue(line);
            while (_output.Count > 200)
                _output.TryDequeue(out _);
        }

        private static int FreePort()
        {
            using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        public ValueTask DisposeAsync()
        {
            if (_process is { HasExited: false })
                Kill();
            _process?.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
