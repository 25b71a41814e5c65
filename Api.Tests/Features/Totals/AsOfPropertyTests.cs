using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Features.Totals;

/// <summary>
/// asOf totals and reports, answered from the as-of rollups, against a recomputation from the raw events at random
/// instants: random posts, voids, supersessions (PUT /events/external upserts) and catalog changes, on a clock the test
/// moves by minutes to hours between them, so the instants fall in many UTC hours and inside them.
/// </summary>
public sealed class AsOfPropertyTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly string[] MetricCodes = ["outreach.sessions", "websites.cleaned", "notices.issued", "reports.tianjin"];
    private static readonly Dictionary<string, (string Key, string[] Values)> Dimensioned = new()
    {
        ["outreach.sessions"] = ("venue", ["government", "community", "enterprise"]),
        ["websites.cleaned"] = ("category", ["pornography", "gambling"]),
    };

    /// <summary>A clock the test sets: the writer's recorded_at and voided_at, and the catalog's history, come from it.</summary>
    private sealed class ManualClock(DateTimeOffset start) : TimeProvider
    {
        private long _ticks = start.UtcTicks;

        public override DateTimeOffset GetUtcNow() => new(Interlocked.Read(ref _ticks), TimeSpan.Zero);

        public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }

    [Theory]
    [InlineData(18)]
    [InlineData(20261203)]
    public async Task AsOf_totals_and_reports_equal_the_raw_ledger_at_random_instants(int seed)
    {
        var random = new Random(seed);
        var clock = new ManualClock(new DateTimeOffset(2026, 1, 5, 7, 40, 0, TimeSpan.Zero));
        await using var app = await TallyApp.StartAsync(new Dictionary<string, string?>(),
            services => services.AddSingleton<TimeProvider>(clock));
        var root = await app.OrgUnitAsync(parent: null);
        var a = await app.OrgUnitAsync(root);
        var b = await app.OrgUnitAsync(root);
        var a1 = await app.OrgUnitAsync(a);
        string[] units = [root, a, b, a1];
        var campaign = Unique.Code("camp");
        using (var admin = app.Admin())
        {
            var created = await admin.PostAsJsonAsync("/api/v1/campaigns",
                new { code = campaign, name = "专项 " + campaign, startsOn = "2019-01-01", endsOn = "2025-12-31" }, Ct);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        using var writer = await app.ClientWithAsync(["events:write"]);
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var externalIds = new List<string>();
        var instants = new List<DateTimeOffset>();
        // notices.issued is deactivated and renamed, and active again, at random steps: (instant, active, name) in order.
        var noticeStates = new List<(DateTimeOffset At, bool Active, string Name)> { (DateTimeOffset.MinValue, true, "") };

        object Body()
        {
            // An inactive metric takes no events: notices.issued only while active.
            var writable = MetricCodes.Where(m => m != "notices.issued" || noticeStates[^1].Active).ToList();
            var metric = writable[random.Next(writable.Count)];
            object? dimensions = Dimensioned.TryGetValue(metric, out var d) && random.Next(4) != 0
                ? new Dictionary<string, string> { [d.Key] = d.Values[random.Next(d.Values.Length)] } : null;
            var day = new DateOnly(2023, 1, 1).AddDays(random.Next(3 * 365));
            return new
            {
                metric, occurredOn = day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                quantity = random.Next(1, 900), orgUnit = units[random.Next(units.Length)],
                campaign = random.Next(3) == 0 ? campaign : null, dimensions,
            };
        }

        for (var step = 0; step < 24; step++)
        {
            // Minutes to hours between steps, sometimes less than a second, sometimes days: instants inside and across
            // UTC hours, days and months, so every level of the as-of rollups is cut from either side.
            clock.Advance(random.Next(5) switch
            {
                0 => TimeSpan.FromMilliseconds(random.Next(1, 900)),
                1 => TimeSpan.FromHours(random.Next(1, 24 * 25)),
                _ => TimeSpan.FromMinutes(random.Next(1, 150)),
            });
            switch (random.Next(6))
            {
                case 0 or 1:
                    for (var i = random.Next(3, 12); i > 0; i--)
                    {
                        var response = await writer.PostAsJsonAsync("/api/v1/events", Body(), Ct);
                        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
                        if (random.Next(3) == 0)
                            clock.Advance(TimeSpan.FromSeconds(random.Next(1, 1200)));
                    }
                    break;
                case 2:
                {
                    using var db = app.OpenDatabase();
                    var active = db.Query<string>($"SELECT id FROM events WHERE voided_at IS NULL AND {TestStore.InList("org_unit", "units")}", new { units }).ToList();
                    foreach (var id in active.OrderBy(_ => random.Next()).Take(random.Next(1, 4)))
                    {
                        var voided = await writer.PostAsJsonAsync($"/api/v1/events/{id}/void", new { reason = "property test" }, Ct);
                        Assert.Equal(HttpStatusCode.OK, voided.StatusCode);
                        clock.Advance(TimeSpan.FromSeconds(random.Next(1, 600)));
                    }
                    break;
                }
                case 3:
                    for (var i = random.Next(2, 6); i > 0; i--)
                    {
                        // A new externalId, or another version of one already there (a supersession).
                        var externalId = externalIds.Count > 0 && random.Next(3) != 0
                            ? externalIds[random.Next(externalIds.Count)] : Unique.Code("x");
                        if (!externalIds.Contains(externalId))
                            externalIds.Add(externalId);
                        var response = await writer.PutAsJsonAsync($"/api/v1/events/external/{externalId}", Body(), Ct);
                        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
                    }
                    break;
                case 4:
                {
                    var active = !noticeStates[^1].Active || random.Next(2) == 0;
                    var name = "下发问题提示单" + step.ToString(CultureInfo.InvariantCulture);
                    using var admin = app.Admin();
                    var changed = await admin.PutAsJsonAsync("/api/v1/metrics/notices.issued",
                        new { name, unit = "次", reportTemplate = name + "{value}次", active }, Ct);
                    Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
                    noticeStates.Add((clock.GetUtcNow(), active, name));
                    break;
                }
                default:
                    break;
            }
            instants.Add(clock.GetUtcNow());
            clock.Advance(TimeSpan.FromTicks(1));
            if (random.Next(2) == 0)
                instants.Add(clock.GetUtcNow() - TimeSpan.FromSeconds(random.Next(1, 3600)));
        }
        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.True(instants.Count > 24);
        // And the bounds of the levels themselves: the first instant of a UTC month, day and hour, and the one before.
        var last = instants[^1];
        foreach (var bound in new[]
        {
            new DateTimeOffset(last.Year, last.Month, 1, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(last.Year, last.Month, last.Day, 0, 0, 0, TimeSpan.Zero),
            new DateTimeOffset(last.Year, last.Month, last.Day, last.Hour, 0, 0, TimeSpan.Zero),
        })
        {
            instants.Add(bound);
            instants.Add(bound - TimeSpan.FromTicks(1));
        }

        using var connection = app.OpenDatabase();
        Assert.True(connection.ExecuteScalar<long>("SELECT count(DISTINCT substr(recorded_at, 1, 13)) FROM events") > 5);
        Assert.True(connection.ExecuteScalar<long>("SELECT count(DISTINCT substr(recorded_at, 1, 10)) FROM events") > 3);
        Assert.True(connection.ExecuteScalar<long>("SELECT count(DISTINCT substr(recorded_at, 1, 7)) FROM events") > 1);
        Assert.True(connection.ExecuteScalar<long>("SELECT count(*) FROM events WHERE void_reason = 'superseded'") > 0);

        string[][] groupings = [[], ["month"], ["orgUnit"], ["campaign"], ["quarter", "orgUnit"], ["dim.venue"], ["month", "campaign", "dim.category"]];
        foreach (var t in instants.OrderBy(_ => random.Next()).Take(14).Concat(instants.TakeLast(7)))
        {
            var asOf = Uri.EscapeDataString(t.ToString("O", CultureInfo.InvariantCulture));
            var storage = t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
            for (var q = 0; q < 4; q++)
            {
                var groups = groupings[random.Next(groupings.Length)];
                var unit = units[random.Next(units.Length)];
                var withCampaign = random.Next(4) == 0;
                var partial = random.Next(4) == 0;
                var (from, to) = partial ? ("2024-02-10", "2024-11-20") : ("2024-01-01", "2024-12-31");
                var url = $"/api/v1/totals?from={from}&to={to}&orgUnit={unit}&asOf={asOf}"
                    + (withCampaign ? "&campaign=" + campaign : "") + (groups.Length > 0 ? "&groupBy=" + string.Join(',', groups) : "");
                var body = await reader.GetJsonAsync(url);
                var actual = body["rows"]!.AsArray().Where(r => r!["events"]!.GetValue<long>() != 0)
                    .Select(r => Row(r!["metric"]!.GetValue<string>(), groups.Select(g => r[g]?.GetValue<string>()),
                        r["value"]!.GetValue<long>(), r["events"]!.GetValue<long>()))
                    .Order(StringComparer.Ordinal).ToList();
                var expected = ExpectedTotals(connection, groups, unit, withCampaign ? campaign : null, from, to, storage);
                Assert.True(expected.SequenceEqual(actual), $"seed {seed}, {url}\nexpected {string.Join("; ", expected)}\nactual   {string.Join("; ", actual)}");
            }

            foreach (var unit in new[] { root, a, b })
            {
                var sorted = await reader.GetJsonAsync($"/api/v1/reports/annual/2024?orgUnit={unit}&asOf={asOf}");
                var kept = await reader.GetJsonAsync($"/api/v1/reports/annual/2024?orgUnit={unit}&asOf={asOf}&digestForm=setsum256");
                var noticeThen = noticeStates.Last(s => s.At <= t);
                var metricsThen = MetricCodes.Where(m => m != "notices.issued" || noticeThen.Active)
                    .Concat(["campaign.actions", "leads.handled", "websites.deregistered", "accounts.interviewed", "reports.political"]).ToList();
                var counted = connection.Query<(string Id, string Metric, long Quantity)>(
                    $"""
                    SELECT id, metric, quantity FROM events
                    WHERE {TestStore.InList("metric", "metricsThen")} AND occurred_on BETWEEN '2024-01-01' AND '2024-12-31'
                      AND org_unit IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @unit)
                      AND recorded_at <= @storage AND (voided_at IS NULL OR voided_at > @storage)
                    """, new { metricsThen, unit, storage }).ToList();
                Assert.Equal(SortedDigest(counted), sorted["digest"]!.GetValue<string>());
                Assert.Equal("sha256", sorted["digestForm"]!.GetValue<string>());
                Assert.Equal(SetSum(counted), sorted["keptDigest"]!.GetValue<string>());
                Assert.Equal(SetSum(counted), kept["digest"]!.GetValue<string>());
                Assert.Equal(SetSum(counted), kept["keptDigest"]!.GetValue<string>());
                Assert.Equal("setsum256", kept["digestForm"]!.GetValue<string>());
                foreach (var report in new[] { sorted, kept })
                {
                    var figures = report["figures"]!.AsArray();
                    Assert.Equal(noticeThen.Active, figures.Any(f => f!["metric"]!.GetValue<string>() == "notices.issued"));
                    if (noticeThen.Active && noticeThen.Name.Length > 0)
                        Assert.Equal(noticeThen.Name, figures.Single(f => f!["metric"]!.GetValue<string>() == "notices.issued")!["name"]!.GetValue<string>());
                    foreach (var figure in figures)
                    {
                        var metric = figure!["metric"]!.GetValue<string>();
                        Assert.Equal(counted.Where(e => e.Metric == metric).Sum(e => e.Quantity), figure["value"]!.GetValue<long>());
                        Assert.Equal(counted.Count(e => e.Metric == metric), figure["events"]!.GetValue<long>());
                    }
                }
                Assert.Equal(sorted["figures"]!.ToJsonString(), kept["figures"]!.ToJsonString());
            }
        }

        // The kept sums themselves: every as-of row set equals the changes of the events, level by level.
        AssertKeptRowsMatch(connection);
    }

    /// <summary>
    /// A database from before migration 0120 (no as-of rollups), from 0120 (one level, per UTC hour, digests kept), or
    /// from 0130 (three levels, each written with every change, no fold mark: "0140"), upgrades in place: its as-of
    /// rollups, backfilled by the migrations and their digest limbs by the writer at start, equal what the writer keeps
    /// event by event, and asOf answers stay the same.
    /// </summary>
    [Theory]
    [InlineData("0120")]
    [InlineData("0130")]
    [InlineData("0140")]
    public async Task A_database_from_before_the_asof_levels_upgrades_to_the_same_kept_sums(string from)
    {
        var folder = Path.Combine(Path.GetTempPath(), "tally-tests", "asof-upgrade-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "tally.db");
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = $"Data Source={path}" };
        var clock = new ManualClock(new DateTimeOffset(2026, 2, 1, 9, 50, 0, TimeSpan.Zero));
        // Row for row at the hour level, which holds every change; the day and month levels hold those before the fold's
        // mark, which the upgrade sets after the last change and the writer after its last group's hour
        // (AssertKeptRowsMatch checks them against the events on both sides).
        string[] tables = ["asof_unit_hour_rollups", "asof_hour_rollups"];
        List<string> AllRows(System.Data.Common.DbConnection db) => RowsOf(db, tables);
        try
        {
            var instants = new List<string>();
            List<string> kept, answers;
            await using (var before = await TallyApp.StartAsync(settings, services => services.AddSingleton<TimeProvider>(clock)))
            {
                using var writer = await before.ClientWithAsync(["events:write"]);
                var ids = new List<string>();
                for (var i = 0; i < 12; i++)
                {
                    // Minutes apart, and twice 15 days: rows in several hours, days and months of change.
                    clock.Advance(i is 4 or 8 ? TimeSpan.FromDays(15) : TimeSpan.FromMinutes(17));
                    ids.Add(await writer.RecordAsync(i % 2 == 0 ? "notices.issued" : "outreach.sessions", $"2024-0{1 + (i % 9)}-1{i % 10}",
                        10 + i, i % 3 == 0 ? "hedong" : "tianjin", dimensions: i % 2 == 0 ? null : new { venue = "community" }));
                    if (i % 4 == 3)
                    {
                        var voided = await writer.PostAsJsonAsync($"/api/v1/events/{ids[i - 2]}/void", new { reason = "upgrade test" }, Ct);
                        Assert.Equal(HttpStatusCode.OK, voided.StatusCode);
                    }
                    if (i % 5 == 0)
                    {
                        var upsert = await writer.PutAsJsonAsync("/api/v1/events/external/upgrade-one", new
                        {
                            metric = "notices.issued", occurredOn = "2024-05-05", quantity = 1 + i, orgUnit = "hedong",
                        }, Ct);
                        Assert.True(upsert.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created);
                    }
                    instants.Add(Uri.EscapeDataString(clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture)));
                }
                clock.Advance(TimeSpan.FromMinutes(1));
                answers = await AnswersAsync(before, instants);
                using var db = before.OpenDatabase();
                kept = AllRows(db);
                AssertKeptRowsMatch(db);
                Assert.True(db.ExecuteScalar<long>("SELECT count(DISTINCT changed) FROM asof_unit_hour_rollups") > 2);
                Assert.True(db.ExecuteScalar<long>("SELECT count(DISTINCT changed) FROM asof_unit_month_rollups") > 1);
            }
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            using (var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
            {
                db.Open();
                // Before 0140 every change was written to all three levels at once, and there was no fold mark.
                if (from == "0140")
                    db.Execute(string.Concat(new[] { ("day", 10), ("month", 7) }.Select(level => $"""
                            INSERT INTO asof_{level.Item1}_rollups (metric, month, org_unit, campaign, dimensions, changed, value, events)
                            SELECT metric, month, org_unit, campaign, dimensions, substr(changed, 1, {level.Item2}), sum(value), sum(events)
                            FROM asof_hour_rollups WHERE changed >= (SELECT through FROM asof_folded)
                            GROUP BY metric, month, org_unit, campaign, dimensions, substr(changed, 1, {level.Item2}) HAVING true
                            ON CONFLICT (metric, month, org_unit, campaign, dimensions, changed)
                            DO UPDATE SET value = value + excluded.value, events = events + excluded.events;
                            INSERT INTO asof_unit_{level.Item1}_rollups (metric, month, org_unit, changed, value, events, d0, d1, d2, d3, d4, d5, d6, d7)
                            SELECT metric, month, org_unit, substr(changed, 1, {level.Item2}), sum(value), sum(events),
                                   sum(d0), sum(d1), sum(d2), sum(d3), sum(d4), sum(d5), sum(d6), sum(d7)
                            FROM asof_unit_hour_rollups WHERE changed >= (SELECT through FROM asof_folded)
                            GROUP BY metric, month, org_unit, substr(changed, 1, {level.Item2}) HAVING true
                            ON CONFLICT (metric, month, org_unit, changed)
                            DO UPDATE SET value = value + excluded.value, events = events + excluded.events,
                                d0 = d0 + excluded.d0, d1 = d1 + excluded.d1, d2 = d2 + excluded.d2, d3 = d3 + excluded.d3,
                                d4 = d4 + excluded.d4, d5 = d5 + excluded.d5, d6 = d6 + excluded.d6, d7 = d7 + excluded.d7;
                            """)));
                db.Execute("DROP TABLE asof_folded; DELETE FROM schemaversions WHERE scriptname LIKE '%0140_asof_fold.sql';");
                if (from != "0140")
                    db.Execute(from == "0120"
                    ? """
                      DROP TABLE asof_month_rollups; DROP TABLE asof_day_rollups; DROP TABLE asof_hour_rollups;
                      DROP TABLE asof_unit_month_rollups; DROP TABLE asof_unit_day_rollups; DROP TABLE asof_unit_hour_rollups;
                      DROP TABLE asof_voids; DROP TABLE asof_digest_pending;
                      DELETE FROM schemaversions WHERE scriptname LIKE '%0120_asof_rollups.sql' OR scriptname LIKE '%0130_asof_levels.sql';
                      """
                    // 0120's tables were the hour level as it stands, under the old names and key order.
                    : """
                      CREATE TABLE asof_rollups (
                          metric TEXT NOT NULL, month TEXT NOT NULL, org_unit TEXT NOT NULL, campaign TEXT NOT NULL DEFAULT '',
                          dimensions TEXT NOT NULL DEFAULT '{}', hour TEXT NOT NULL, value INTEGER NOT NULL, events INTEGER NOT NULL,
                          PRIMARY KEY (metric, month, org_unit, campaign, dimensions, hour)) WITHOUT ROWID;
                      CREATE TABLE asof_unit_rollups (
                          metric TEXT NOT NULL, month TEXT NOT NULL, org_unit TEXT NOT NULL, hour TEXT NOT NULL,
                          value INTEGER NOT NULL, events INTEGER NOT NULL,
                          d0 INTEGER NOT NULL, d1 INTEGER NOT NULL, d2 INTEGER NOT NULL, d3 INTEGER NOT NULL,
                          d4 INTEGER NOT NULL, d5 INTEGER NOT NULL, d6 INTEGER NOT NULL, d7 INTEGER NOT NULL,
                          PRIMARY KEY (metric, month, org_unit, hour)) WITHOUT ROWID;
                      INSERT INTO asof_rollups SELECT metric, month, org_unit, campaign, dimensions, changed, value, events FROM asof_hour_rollups;
                      INSERT INTO asof_unit_rollups
                      SELECT metric, month, org_unit, changed, value, events, d0, d1, d2, d3, d4, d5, d6, d7 FROM asof_unit_hour_rollups;
                      DROP TABLE asof_month_rollups; DROP TABLE asof_day_rollups; DROP TABLE asof_hour_rollups;
                      DROP TABLE asof_unit_month_rollups; DROP TABLE asof_unit_day_rollups; DROP TABLE asof_unit_hour_rollups;
                      DELETE FROM schemaversions WHERE scriptname LIKE '%0130_asof_levels.sql';
                      """);
            }

            await using var app = await TallyApp.StartAsync(settings, services => services.AddSingleton<TimeProvider>(clock));
            using (var db = app.OpenDatabase())
            {
                Assert.Equal(kept, AllRows(db));
                Assert.Equal(0, db.ExecuteScalar<long>("SELECT count(*) FROM asof_digest_pending"));
                AssertKeptRowsMatch(db);
            }
            Assert.Equal(answers, await AnswersAsync(app, instants));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// A database marked asof_digest_pending (the kept digest's limbs still to be added, as after migration 0120 on a
    /// ledger with events) gets them at start, on either store: read in pages by key (more than one page of recordings
    /// here), equal to the limbs the writer kept event by event, and the kept-digest answers unchanged.
    /// </summary>
    [Fact]
    public async Task Kept_digests_left_pending_are_filled_in_at_start_equal_to_those_kept_event_by_event()
    {
        var folder = Directory.CreateTempSubdirectory("tally-backfill-").FullName;
        var store = TestStore.OnPostgres ? TestStore.NewPostgresDatabase() : $"Data Source={Path.Combine(folder, "tally.db")}";
        var settings = new Dictionary<string, string?> { ["ConnectionStrings:Tally"] = store };
        var clock = new ManualClock(new DateTimeOffset(2026, 2, 1, 9, 50, 0, TimeSpan.Zero));
        string[] tables = ["asof_unit_hour_rollups", "asof_unit_day_rollups", "asof_unit_month_rollups"];
        List<string> AllRows(System.Data.Common.DbConnection db) => RowsOf(db, tables);
        try
        {
            var instants = new List<string>();
            List<string> kept, answers;
            await using (var before = await TallyApp.StartAsync(settings, services => services.AddSingleton<TimeProvider>(clock)))
            {
                using var writer = await before.ClientWithAsync(["events:write"]);
                // 10,050 recordings: more than one page of the backfill (a batch holds at most 10,000).
                foreach (var (first, count) in new[] { (0, 10_000), (10_000, 50) })
                {
                    var batch = await writer.PostAsJsonAsync("/api/v1/events/batch", new
                    {
                        events = Enumerable.Range(first, count).Select(i => new
                        {
                            metric = "notices.issued", occurredOn = $"2024-0{1 + (i % 9)}-1{i % 10}", quantity = 1 + (i % 7),
                            orgUnit = i % 3 == 0 ? "hedong" : "tianjin",
                        }).ToArray(),
                    }, Ct);
                    Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
                }
                instants.Add(Uri.EscapeDataString(clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture)));
                var ids = new List<string>();
                for (var i = 0; i < 6; i++)
                {
                    // Minutes apart, and once two days: changes in several hours and days.
                    clock.Advance(i == 3 ? TimeSpan.FromDays(2) : TimeSpan.FromMinutes(23));
                    ids.Add(await writer.RecordAsync("outreach.sessions", $"2024-0{1 + i}-05", 10 + i, "hedong"));
                    if (i % 2 == 1)
                        Assert.Equal(HttpStatusCode.OK,
                            (await writer.PostAsJsonAsync($"/api/v1/events/{ids[i - 1]}/void", new { reason = "backfill test" }, Ct)).StatusCode);
                    instants.Add(Uri.EscapeDataString(clock.GetUtcNow().ToString("O", CultureInfo.InvariantCulture)));
                }
                clock.Advance(TimeSpan.FromMinutes(1));
                answers = await AnswersAsync(before, instants);
                using var db = before.OpenDatabase();
                kept = AllRows(db);
                Assert.Contains(kept, row => !row.EndsWith("|0|0|0|0|0|0|0|0", StringComparison.Ordinal));
            }
            using (var db = TestStore.Open(store))
            {
                foreach (var table in tables)
                    db.Execute($"UPDATE {table} SET d0 = 0, d1 = 0, d2 = 0, d3 = 0, d4 = 0, d5 = 0, d6 = 0, d7 = 0");
                db.Execute("INSERT INTO asof_digest_pending (one) VALUES (1)");
            }
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

            await using var app = await TallyApp.StartAsync(settings, services => services.AddSingleton<TimeProvider>(clock));
            using (var db = app.OpenDatabase())
            {
                Assert.Equal(kept, AllRows(db));
                Assert.Equal(0, db.ExecuteScalar<long>("SELECT count(*) FROM asof_digest_pending"));
                AssertKeptRowsMatch(db);
            }
            Assert.Equal(answers, await AnswersAsync(app, instants));

            // Pages of two rows: the page boundaries of both walks (recordings by seq, voids by (voided_at, event_id)).
            using (var db = TestStore.Open(store))
            {
                foreach (var table in tables)
                    db.Execute($"UPDATE {table} SET d0 = 0, d1 = 0, d2 = 0, d3 = 0, d4 = 0, d5 = 0, d6 = 0, d7 = 0");
                db.Execute("INSERT INTO asof_digest_pending (one) VALUES (1)");
                AsOfBackfill.FillDigests(db, NullLogger.Instance, page: 2);
                Assert.Equal(kept, AllRows(db));
                Assert.Equal(0, db.ExecuteScalar<long>("SELECT count(*) FROM asof_digest_pending"));
            }
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (TestStore.OnPostgres)
                TestStore.DropPostgresDatabase(store);
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Every row of the tables, as text, in one order: two databases' kept rows compare equal when equal.</summary>
    private static List<string> RowsOf(System.Data.Common.DbConnection db, string[] tables) => tables
        .SelectMany(table => db.Query($"SELECT * FROM {table}")
            .Select(r => table + "|" + string.Join('|', ((IDictionary<string, object?>)r).Values)))
        .Order(StringComparer.Ordinal).ToList();

    /// <summary>Totals and both report forms at each instant, as text.</summary>
    private static async Task<List<string>> AnswersAsync(TallyApp app, IEnumerable<string> instants)
    {
        using var reader = await app.ClientWithAsync(["totals:read"]);
        var answers = new List<string>();
        foreach (var asOf in instants)
        {
            answers.Add((await reader.GetJsonAsync($"/api/v1/totals?year=2024&groupBy=month,orgUnit&asOf={asOf}"))["rows"]!.ToJsonString());
            answers.Add((await reader.GetJsonAsync($"/api/v1/totals?year=2024&groupBy=dim.venue&asOf={asOf}"))["rows"]!.ToJsonString());
            foreach (var form in new[] { "", "&digestForm=setsum256" })
            {
                var report = await reader.GetJsonAsync($"/api/v1/reports/annual/2024?asOf={asOf}{form}");
                answers.Add(report["figures"]!.ToJsonString() + report["digest"] + report["keptDigest"]);
            }
        }
        return answers;
    }

    private static string Row(string metric, IEnumerable<string?> keys, long value, long events) =>
        $"{metric}|{string.Join('|', keys.Select(k => k ?? "(null)"))}|{value}|{events}";

    /// <summary>The plain way: the events recorded by t and not voided by t, grouped as asked.</summary>
    private static List<string> ExpectedTotals(System.Data.Common.DbConnection connection, string[] groups, string unit,
        string? campaign, string from, string to, string storage)
    {
        var expressions = groups.Select(g => g switch
        {
            "month" => "substr(occurred_on, 1, 7)",
            "quarter" => "substr(occurred_on, 1, 4) || '-Q' || ((CAST(substr(occurred_on, 6, 2) AS INTEGER) + 2) / 3)",
            "orgUnit" => "org_unit",
            "campaign" => "campaign",
            _ => TestStore.JsonText(connection, "dimensions", g["dim.".Length..]),
        }).ToList();
        var select = string.Concat(expressions.Select((e, i) => $", {e} AS g{i}"));
        var rows = connection.Query(
            $"""
            SELECT metric{select}, sum(quantity) AS value, count(*) AS events FROM events
            WHERE occurred_on BETWEEN @from AND @to AND recorded_at <= @storage AND (voided_at IS NULL OR voided_at > @storage)
              AND org_unit IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @unit)
              {(campaign is null ? "" : "AND campaign = @campaign")}
            GROUP BY metric{string.Concat(expressions.Select((_, i) => $", g{i}"))}
            """, new { from, to, storage, unit, campaign });
        return rows.Select(r =>
            {
                var d = (IDictionary<string, object?>)r;
                return Row((string)d["metric"]!, groups.Select((_, i) => (string?)d[$"g{i}"]), Convert.ToInt64(d["value"], System.Globalization.CultureInfo.InvariantCulture),
                    Convert.ToInt64(d["events"], System.Globalization.CultureInfo.InvariantCulture));
            })
            .Order(StringComparer.Ordinal).ToList();
    }

    private static string SortedDigest(IEnumerable<(string Id, string Metric, long Quantity)> counted) =>
        "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Concat(
            counted.OrderBy(e => e.Id, StringComparer.Ordinal).Select(e => $"{e.Id}\t{e.Quantity.ToString(CultureInfo.InvariantCulture)}\n")))));

    /// <summary>The kept digest as its definition says, independently of the API's limbs.</summary>
    private static string SetSum(IEnumerable<(string Id, string Metric, long Quantity)> counted)
    {
        var modulus = BigInteger.One << 256;
        var sum = counted.Aggregate(BigInteger.Zero, (s, e) => (s + new BigInteger(SHA256.HashData(Encoding.UTF8.GetBytes(
            $"{e.Id}\t{e.Quantity.ToString(CultureInfo.InvariantCulture)}\n")), isUnsigned: true, isBigEndian: true)) % modulus);
        var bytes = sum.ToByteArray(isUnsigned: true, isBigEndian: true);
        return "setsum256:" + Convert.ToHexStringLower(new byte[32 - bytes.Length].Concat(bytes).ToArray());
    }

    private static void AssertKeptRowsMatch(System.Data.Common.DbConnection connection)
    {
        // The hour level holds every change; the day and month levels those of the hours before the fold's mark.
        var folded = connection.ExecuteScalar<string>("SELECT through FROM asof_folded")!;
        foreach (var (level, length) in new[] { ("month", 7), ("day", 10), ("hour", 13) })
        {
            var before = level == "hour" ? "'9999'" : $"'{folded}'";
            var changes =
                $"""
                SELECT metric, substr(occurred_on, 1, 7) AS month, org_unit, coalesce(campaign, '') AS campaign, dimensions,
                       substr(recorded_at, 1, {length}) AS changed, quantity AS value, 1 AS events
                FROM events WHERE substr(recorded_at, 1, 13) < {before}
                UNION ALL
                SELECT metric, substr(occurred_on, 1, 7), org_unit, coalesce(campaign, ''), dimensions,
                       substr(voided_at, 1, {length}), -quantity, -1
                FROM events WHERE voided_at IS NOT NULL AND substr(voided_at, 1, 13) < {before}
                """;
            var expected = connection.Query<string>(
                $"SELECT metric || '|' || month || '|' || org_unit || '|' || campaign || '|' || dimensions || '|' || changed || '|' || sum(value) || '|' || sum(events) FROM ({changes}) AS changes GROUP BY metric, month, org_unit, campaign, dimensions, changed ORDER BY 1").ToList();
            var stored = connection.Query<string>(
                $"SELECT metric || '|' || month || '|' || org_unit || '|' || campaign || '|' || dimensions || '|' || changed || '|' || value || '|' || events FROM asof_{level}_rollups ORDER BY 1").ToList();
            Assert.Equal(expected, stored);
            var expectedUnits = connection.Query<string>(
                $"SELECT metric || '|' || month || '|' || org_unit || '|' || changed || '|' || sum(value) || '|' || sum(events) FROM ({changes}) AS changes GROUP BY metric, month, org_unit, changed ORDER BY 1").ToList();
            var storedUnits = connection.Query<string>(
                $"SELECT metric || '|' || month || '|' || org_unit || '|' || changed || '|' || value || '|' || events FROM asof_unit_{level}_rollups ORDER BY 1").ToList();
            Assert.Equal(expectedUnits, storedUnits);
        }
        Assert.Equal(
            connection.Query<string>("SELECT voided_at || '|' || id FROM events WHERE voided_at IS NOT NULL ORDER BY 1").ToList(),
            connection.Query<string>("SELECT voided_at || '|' || event_id FROM asof_voids ORDER BY 1").ToList());
    }
}
