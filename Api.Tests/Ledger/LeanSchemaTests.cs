using Dapper;
using Microsoft.Data.Sqlite;
using Tally.Api.Features.Events;
using Tally.Api.Ledger;
using Tally.Api.Tests.Infrastructure;

namespace Tally.Api.Tests.Ledger;

/// <summary>
/// The events table's B-trees (migrations/0110_lean_events.sql): exactly these indexes exist, and each is the plan of
/// a query the contract needs, shown with EXPLAIN QUERY PLAN on the statement the code runs (or its shape, where the
/// code builds it). An index added without a query here fails the first test.
/// </summary>
public sealed class LeanSchemaTests(TallyApp app) : IClassFixture<TallyApp>
{
    private string PlanOf(string sql, object? parameters = null)
    {
        TestStore.SkipUnlessSqlite("these are SQLite's query plans");
        using var db = (Microsoft.Data.Sqlite.SqliteConnection)app.OpenDatabase();
        // The writer's scratch table for imports in pieces, made on this connection as the writer makes it on its own.
        db.Execute(StagedEvents.CreateTable);
        db.CreateFunction(StagedEvents.NextIdFunction, () => "evt_x", isDeterministic: false);
        return string.Join("\n", db.Query("EXPLAIN QUERY PLAN " + sql, parameters).Select(row => (string)row.detail));
    }

    [Fact]
    public void Events_have_the_integer_key_and_exactly_the_earned_indexes()
    {
        TestStore.SkipUnlessSqlite("SQLite's schema (PostgresSchemaTests compares PostgreSQL's with it)");
        using var db = app.OpenDatabase();
        var indexes = db.Query<string>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' ORDER BY name").ToList();
        Assert.Equal(["ix_events_day", "ix_events_metric_day", "ix_events_unit_day", "ux_events_id", "ux_events_source_external_head"], indexes);
        var key = db.QuerySingle<(string Name, string Type)>("SELECT name, type FROM pragma_table_info('events') WHERE pk = 1");
        Assert.Equal(("seq", "INTEGER"), key);
    }

    [Fact]
    public void An_event_is_found_by_its_published_id_through_ux_events_id() =>
        Assert.Equal("SEARCH events USING INDEX ux_events_id (id=?)",
            PlanOf("SELECT org_unit FROM events WHERE id = @id", new { id = "evt_x" }));

    [Fact]
    public void Idempotency_seeks_the_head_of_a_source_and_external_id() =>
        Assert.Equal("SEARCH events USING INDEX ux_events_source_external_head (source=? AND external_id=?)",
            PlanOf(EventLedger.HeadQuery, new { source = "s", externalId = "x" }));

    [Fact]
    public void An_import_asks_whether_its_source_has_heads_through_the_head_index() =>
        Assert.Contains("SEARCH events USING INDEX ux_events_source_external_head (source=? AND external_id>?)",
            PlanOf(EventLedger.SourceHasHeadsQuery, new { source = "s" }), StringComparison.Ordinal);

    [Fact]
    public void A_write_asks_whether_an_import_holds_its_external_id_with_one_seek() =>
        Assert.Contains("SEARCH import_staged_events USING INDEX ux_import_staged_source_external (source=? AND external_id=?)",
            PlanOf(StagedEvents.HeldByQuery, new { source = "s", externalId = "x" }), StringComparison.Ordinal);

    [Fact]
    public void A_batch_looks_up_its_heads_and_holds_with_one_seek_per_external_id()
    {
        var args = new { source = "s", ids = """["a","b"]""" };
        Assert.Equal("SCAN json_each VIRTUAL TABLE INDEX 1:\nSEARCH events USING INDEX ux_events_source_external_head (source=? AND external_id=?)",
            PlanOf(EventWritePolicy.HeadsOfSqlite, args));
        Assert.Equal("SCAN json_each VIRTUAL TABLE INDEX 1:\nSEARCH import_staged_events USING INDEX ux_import_staged_source_external (source=? AND external_id=?)",
            PlanOf(EventWritePolicy.HoldsOfSqlite, args));
    }

    [Fact]
    public void A_publish_reads_the_staged_rows_in_file_order_without_sorting_them()
    {
        // Each row's id is drawn as the row is read: a sorter would draw them before sorting, out of file order.
        var plan = PlanOf(StagedEvents.PublishSql, new { import = "imp_x", recordedAt = "2026", auditSeq = 1 });
        Assert.Contains("SCAN import_staged_events", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("TEMP B-TREE", plan, StringComparison.Ordinal);
    }

    [Fact]
    public void A_cells_recording_span_after_a_void_reads_one_units_month() =>
        Assert.Contains("USING INDEX ix_events_unit_day (org_unit=? AND occurred_on>? AND occurred_on<?)",
            PlanOf(Recordings.ActiveSpanQuery, new { orgUnit = "hedong", month = "2024-05", metric = "leads.handled" }), StringComparison.Ordinal);

    [Fact]
    public void A_metrics_year_is_a_range_of_ix_events_metric_day() =>
        // The shape of the annual report's count (CountedEvents) and of asOf totals over the whole tree.
        Assert.Contains("USING INDEX ix_events_metric_day (metric=? AND occurred_on>? AND occurred_on<?)",
            PlanOf("SELECT id, metric, quantity FROM events WHERE metric IN ('leads.handled') AND occurred_on BETWEEN @from AND @to "
                + "AND (voided_at IS NULL OR voided_at > @asOf) ORDER BY seq",
                new { from = "2024-01-01", to = "2024-12-31", asOf = "2025" }), StringComparison.Ordinal);

    [Fact]
    public void One_day_of_events_comes_out_of_ix_events_day_in_id_order()
    {
        var filter = new EventFilter(null, null, false, null, null, new DateOnly(2024, 5, 2), new DateOnly(2024, 5, 2),
            EventStatusFilter.Active, null);
        var (where, parameters) = filter.ToSql();
        Assert.Equal("SEARCH e USING INDEX ix_events_day (occurred_on=?)",
            PlanOf($"SELECT e.id FROM events e WHERE {where} ORDER BY e.seq LIMIT 100", new DynamicParameters(parameters)));
    }

    [Fact]
    public void A_page_after_a_cursor_and_events_recorded_after_an_instant_are_ranges_of_the_table()
    {
        var filter = new EventFilter("leads.handled", "hedong", true, null, null, null, null, EventStatusFilter.Active,
            DateTimeOffset.UnixEpoch);
        var (where, parameters) = filter.ToSql(afterId: "evt_x", recordedAfterSeq: 5);
        var plan = PlanOf($"SELECT e.id FROM events e WHERE {where} ORDER BY e.seq LIMIT 100", new DynamicParameters(parameters));
        Assert.StartsWith("SEARCH e USING INTEGER PRIMARY KEY (rowid>?)", plan, StringComparison.Ordinal);
        Assert.DoesNotContain("TEMP B-TREE", plan, StringComparison.Ordinal);
    }

    [Fact]
    public void A_unit_with_few_events_is_sought_through_ix_events_unit_day_and_a_large_one_walked()
    {
        var filter = new EventFilter(null, "hedong", false, null, null, null, null, EventStatusFilter.Active, null);
        string Plan(bool few)
        {
            var (where, parameters) = filter.ToSql(fewMatches: few);
            return PlanOf($"SELECT e.id FROM events e WHERE {where} ORDER BY e.seq LIMIT 100", new DynamicParameters(parameters));
        }
        Assert.Contains("USING INDEX ix_events_unit_day (org_unit=?)", Plan(few: true), StringComparison.Ordinal);
        Assert.Equal("SCAN e", Plan(few: false));
    }

    [Fact]
    public async Task Seeking_and_walking_list_the_same_events_in_the_same_order()
    {
        var unit = await app.OrgUnitAsync();
        var child = await app.OrgUnitAsync(parent: unit);
        using var client = await app.ClientWithAsync(["events:write"]);
        for (var i = 0; i < 6; i++)
        {
            await client.RecordAsync(i % 2 == 0 ? "leads.handled" : "notices.issued", $"2024-0{1 + (i % 3)}-1{i}", 1 + i, i % 3 == 0 ? child : unit);
            await client.RecordAsync("leads.handled", "2024-02-02", 1, "hedong");
        }
        using var db = app.OpenDatabase();
        foreach (var filter in new[]
                 {
                     new EventFilter(null, unit, true, null, null, null, null, EventStatusFilter.Active, null),
                     new EventFilter("leads.handled", unit, true, null, null, null, null, EventStatusFilter.Active, null),
                     new EventFilter(null, unit, false, null, null, new DateOnly(2024, 2, 1), new DateOnly(2024, 3, 31), EventStatusFilter.All, null),
                     new EventFilter("notices.issued", child, false, null, null, null, null, EventStatusFilter.Active, null),
                 })
        {
            List<string> Ids(bool few)
            {
                var (where, parameters) = filter.ToSql(fewMatches: few, sql: Tally.Api.Data.Sql.Of(db));
                return db.Query<string>($"SELECT e.id FROM events e WHERE {where} ORDER BY e.seq", new DynamicParameters(parameters)).ToList();
            }
            var sought = Ids(few: true);
            Assert.NotEmpty(sought);
            Assert.Equal(Ids(few: false), sought);
            Assert.Equal(sought.Order(StringComparer.Ordinal), sought);
        }
        Assert.True(new EventFilter(null, unit, true, null, null, null, null, EventStatusFilter.Active, null)
            .FewMatches(db, null));
    }

    [Fact]
    public async Task The_seq_of_an_instant_is_the_last_event_recorded_at_or_before_it()
    {
        using var client = await app.ClientWithAsync(["events:write"]);
        var unit = await app.OrgUnitAsync();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
            ids.Add(await client.RecordAsync("leads.handled", "2024-05-02", 1, unit));
        using var db = app.OpenDatabase();
        var rows = db.Query<(long Seq, string RecordedAt)>(
            $"SELECT seq, recorded_at FROM events WHERE {TestStore.InList("id", "ids")} ORDER BY seq", new { ids = ids.ToArray() }).ToList();
        Assert.Equal(5, rows.Count);

        foreach (var (seq, recordedAt) in rows)
        {
            var at = Tally.Api.Data.Instant.FromStorage(recordedAt);
            Assert.Equal(seq, EventSeq.LastRecordedThrough(db, null, at));
            var before = EventSeq.LastRecordedThrough(db, null, at.AddTicks(-1));
            Assert.True(before < seq);
            Assert.Equal(before, db.ExecuteScalar<long>("SELECT coalesce(max(seq), 0) FROM events WHERE recorded_at < @recordedAt", new { recordedAt }));
        }
        Assert.Equal(0, EventSeq.LastRecordedThrough(db, null, DateTimeOffset.UnixEpoch));
        Assert.Equal(db.ExecuteScalar<long>("SELECT max(seq) FROM events"),
            EventSeq.LastRecordedThrough(db, null, DateTimeOffset.MaxValue));
    }
}
