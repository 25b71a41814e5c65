using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Dapper;
using System.Data.Common;
using Tally.Api.Data;
using Tally.Api.Features.Totals;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Reports;

/// <summary>
/// What an annual report counts: per active metric the sum and number of events, their digest (sorted form; null when
/// only the kept form was asked for) and their kept digest (<see cref="SetDigest"/>).
/// </summary>
public sealed record CountedFigures(IReadOnlyDictionary<string, (long Value, long Events)> Sums, string? Digest, string KeptDigest);

/// <summary>
/// Counts the events of a year in a subtree for the annual report. A report of the ledger as it stands now (the
/// dashboard asks for one every few seconds) is kept per year and unit and brought forward by the events recorded
/// since, instead of reading the whole year again: ids (and seq) grow in commit order, so every new event sorts after every
/// counted one and the digest, a hash over counted events in id order, only needs them appended. What would change an
/// event already counted (a void or supersession in that year, a catalog change) moves <see cref="LedgerWriter.Rewrites"/>,
/// and the year is then read whole again. A report at an explicit earlier instant is read whole each time, over the
/// metrics active at that instant.
/// </summary>
public sealed class CountedEvents(Database database, LedgerWriter writer, CatalogCache catalog, ILogger<CountedEvents> logger)
{
    /// <summary>Years and units kept; beyond this the least recently asked is dropped.</summary>
    public const int MaxKept = 32;

    private readonly ConcurrentDictionary<(int Year, string? OrgUnit), Running> _kept = new();

    /// <summary>
    /// The figures of an earlier instant asked for, which the caller has settled, over the metrics active then
    /// (<see cref="MetricsAsOf"/>): read whole, so a later catalog change or write never changes them.
    /// </summary>
    public Task<CountedFigures> CountAtAsync(int year, string? orgUnit, DateTimeOffset asOf, IReadOnlyCollection<string> metricsThen,
        CancellationToken ct) =>
        CountWholeAsync(year, orgUnit, asOf, metricsThen, ct);

    /// <summary>
    /// The figures of an earlier instant with the kept digest only, from the as-of rollups (the asof_unit_*_rollups levels cut
    /// at asOf, and the events of asOf's hour on its side: <see cref="AsOfCut"/>), so no counted event is read.
    /// Same sums and counts as <see cref="CountAtAsync"/>; the subtree is today's, as there.
    /// </summary>
    public async Task<CountedFigures> CountKeptAsync(int year, string? orgUnit, DateTimeOffset asOf, IReadOnlyCollection<string> metricsThen,
        CancellationToken ct)
    {
        var sums = metricsThen.ToDictionary(m => m, _ => (Value: 0L, Events: 0L), StringComparer.Ordinal);
        var digest = new SetDigest();
        await using var connection = await database.OpenAsync(ct);
        await using var transaction = connection.BeginSnapshot();
        var sql = database.Sql;
        var cut = AsOfCut.Find(connection, transaction, asOf);
        var parameters = new DynamicParameters(new { metrics = metricsThen, first = $"{year:D4}-01", last = $"{year:D4}-12", orgUnit });
        cut.Bind(parameters);
        string Subtree(string column) =>
            orgUnit is null ? "" : $"AND {column} IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @orgUnit)";
        var parts = cut.Parts(unitFamily: true).Select(part =>
            $"""
            SELECT metric, {part.Sign} * value AS value, {part.Sign} * events AS events,
                   {part.Sign} * d0 AS d0, {part.Sign} * d1 AS d1, {part.Sign} * d2 AS d2, {part.Sign} * d3 AS d3,
                   {part.Sign} * d4 AS d4, {part.Sign} * d5 AS d5, {part.Sign} * d6 AS d6, {part.Sign} * d7 AS d7
            FROM {part.Table}
            WHERE {part.Condition} AND {sql.InList("metric", "metrics")} AND month BETWEEN @first AND @last {Subtree("org_unit")}
            """);
        await using (var reader = await connection.ExecuteReaderAsync(new CommandDefinition(
            $"""
            SELECT metric, sum(value), sum(events), sum(d0), sum(d1), sum(d2), sum(d3), sum(d4), sum(d5), sum(d6), sum(d7)
            FROM ({string.Join("\nUNION ALL\n", parts)}) AS parts
            GROUP BY metric
            """, parameters, transaction, cancellationToken: ct)))
        {
            var limbs = new long[SetDigest.Limbs];
            while (await reader.ReadAsync(ct))
            {
                for (var i = 0; i < limbs.Length; i++)
                    limbs[i] = reader.GetInt64(3 + i);
                digest.AddSums(limbs);
                sums[reader.GetString(0)] = (reader.GetInt64(1), reader.GetInt64(2));
            }
        }
        // "+metric", "+org_unit": the window is a seq (rowid) range or a few ids; without statistics SQLite would search
        // every event of the metrics (or of the subtree) through ix_events_metric_day (ix_events_unit_day) instead.
        foreach (var (window, sign) in new[] { (AsOfCut.RecordedCondition, cut.Sign), (AsOfCut.VoidedCondition, -cut.Sign) })
        {
            await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(
                $"""
                SELECT id, metric, quantity FROM events
                WHERE {window} AND {sql.InList(sql.Unindexed("metric"), "metrics")} AND substr(occurred_on, 1, 7) BETWEEN @first AND @last {Subtree(sql.Unindexed("org_unit"))}
                """, parameters, transaction, cancellationToken: ct));
            while (await reader.ReadAsync(ct))
            {
                var quantity = reader.GetInt64(2);
                digest.Add(reader.GetString(0), quantity, sign);
                ref var sum = ref CollectionsMarshal.GetValueRefOrNullRef(sums, reader.GetString(1));
                sum = (sum.Value + (sign * quantity), sum.Events + sign);
            }
        }
        return new CountedFigures(sums, null, digest.Current());
    }

    /// <summary>
    /// approvedOnly figures: the events of <see cref="CountAtAsync"/> that lie in cells of reporting submissions approved
    /// by <paramref name="asOf"/>, read whole (approval moves no rewrite mark, so no running count is kept for them).
    /// </summary>
    public Task<CountedFigures> CountApprovedAsync(int year, string? orgUnit, DateTimeOffset asOf, IReadOnlyCollection<string> metrics,
        CancellationToken ct) =>
        CountWholeAsync(year, orgUnit, asOf, metrics, ct, approvedOnly: true);

    /// <summary>
    /// The figures as the ledger stands at <paramref name="asOf"/>, the instant of the request (no asOf was asked for),
    /// which the caller has settled: the running count, over the metrics active now.
    /// </summary>
    public async Task<CountedFigures> CountAsync(int year, string? orgUnit, DateTimeOffset asOf, CancellationToken ct)
    {
        var running = _kept.GetOrAdd((year, orgUnit), _ => new Running());
        await running.Gate.WaitAsync(ct);
        try
        {
            running.LastUsed = Environment.TickCount64;
            var rewritesBefore = writer.Rewrites(year);
            var snapshot = catalog.Current;
            if (rewritesBefore.Settled && running.Digest is not null && running.Rewrites == rewritesBefore
                && ReferenceEquals(running.Catalog, snapshot))
            {
                await CountSinceAsync(running, year, orgUnit, asOf, ct);
                if (writer.Rewrites(year) == rewritesBefore)
                    return running.Figures();
            }

            // First ask, or something counted before has changed: read the year whole, and keep it if nothing moved meanwhile.
            running.Reset();
            var whole = await CountWholeAsync(year, orgUnit, asOf, ActiveMetrics(snapshot), ct, running);
            if (rewritesBefore.Settled && writer.Rewrites(year) == rewritesBefore)
            {
                running.Rewrites = rewritesBefore;
                running.Catalog = snapshot;
            }
            else
            {
                running.Reset();
            }
            return whole;
        }
        finally
        {
            running.Gate.Release();
            if (_kept.Count > MaxKept)
                DropLeastRecent();
        }
    }

    /// <summary>Every counted event of the year read in id order; with <paramref name="keep"/>, its running state set too.</summary>
    private async Task<CountedFigures> CountWholeAsync(int year, string? orgUnit, DateTimeOffset asOf, IReadOnlyCollection<string> metrics,
        CancellationToken ct, Running? keep = null, bool approvedOnly = false)
    {
        var sums = metrics.ToDictionary(m => m, _ => (Value: 0L, Events: 0L), StringComparer.Ordinal);
        var digest = new ReportDigest();
        var kept = new SetDigest();
        var (from, to) = Period.YearOf(year);
        var asOfText = Instant.ToStorage(asOf);
        await using var connection = await database.OpenAsync(ct);
        // One read snapshot for the events and the high-water mark below.
        await using var transaction = connection.BeginSnapshot();
        // Streamed through a plain reader: a year of a large unit is millions of events, of which only the sums and the
        // digest are kept, in id order. Two ways to get them: find the year's events through an index and sort them by
        // id, or walk every event in id order and skip the rest. Walking wins once the year is a fair share of the
        // ledger (at 1M events, a whole tree's year of 20%: 0.35 s walking, 0.6 s finding and sorting); the rollups
        // say what share it is. Unary + keeps a term from choosing the index. For one unit's subtree, "+metric"
        // steers SQLite to the (org_unit, occurred_on) index, so the cost follows that subtree's events.
        var walk = await IsLargeShareAsync(connection, transaction, year, orgUnit, ct);
        var sql = database.Sql;
        await using (var reader = await connection.ExecuteReaderAsync(new CommandDefinition(
            $"""
            SELECT id, metric, quantity
            FROM events
            WHERE {sql.InList(sql.Column("metric", unindexed: orgUnit is not null || walk), "metrics")} AND {sql.Column("occurred_on", walk)} BETWEEN @from AND @to
              AND {sql.Column("recorded_at", walk)} <= @asOf AND (voided_at IS NULL OR voided_at > @asOf)
              {(orgUnit is null ? "" : $"AND {sql.Column("org_unit", walk)} IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @orgUnit)")}
              {(approvedOnly ? "AND " + Reporting.ApprovedCells.Condition("events.metric", "substr(events.occurred_on, 1, 7)", "events.org_unit", "@asOf") : "")}
            ORDER BY seq
            """,
            new { metrics, from, to, asOf, orgUnit }, transaction,
            cancellationToken: ct)))
        {
            while (await reader.ReadAsync(ct))
            {
                var quantity = reader.GetInt64(2);
                digest.Add(reader.GetString(0), quantity);
                kept.Add(reader.GetString(0), quantity);
                ref var sum = ref CollectionsMarshal.GetValueRefOrNullRef(sums, reader.GetString(1));
                sum = (sum.Value + quantity, sum.Events + 1);
            }
        }

        // A void after asOf may already be committed (its group's instant came after this request's): the rewrite mark
        // this count would be kept under includes it, so bringing the count forward would never take that event off.
        if (keep is null || await VoidedAfterAsync(connection, transaction, asOfText, ct))
        {
            using (digest)
                return new CountedFigures(sums, digest.Finish(), kept.Current());
        }
        keep.Digest = digest;
        keep.Kept = kept;
        keep.Sums = sums;
        keep.HighWater = await HighWaterAsync(connection, transaction, asOfText, ct);
        return keep.Figures();
    }

    private static List<string> ActiveMetrics(CatalogSnapshot snapshot) =>
        snapshot.Metrics.Values.Where(m => m.Active).Select(m => m.Code).ToList();

    /// <summary>Appends the events recorded after the running count's high-water mark, up to asOf.</summary>
    private async Task CountSinceAsync(Running running, int year, string? orgUnit, DateTimeOffset asOf, CancellationToken ct)
    {
        var (from, to) = Period.YearOf(year);
        var (first, last) = (Day.ToStorage(from), Day.ToStorage(to));
        var subtree = orgUnit is null ? null : running.Catalog!.Subtree(orgUnit);
        var asOfText = Instant.ToStorage(asOf);
        await using var connection = await database.OpenAsync(ct);
        await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(
            """
            SELECT id, metric, quantity, occurred_on, org_unit, recorded_at, voided_at
            FROM events WHERE seq > coalesce((SELECT seq FROM events WHERE id = @after), 0) ORDER BY seq
            """, new { after = running.HighWater ?? "" }, cancellationToken: ct));
        while (await reader.ReadAsync(ct))
        {
            // recorded_at grows with id: the first event after asOf ends what this count may see.
            if (string.CompareOrdinal(reader.GetString(5), asOfText) > 0)
                break;
            var id = reader.GetString(0);
            running.HighWater = id;
            var day = reader.GetString(3);
            if (string.CompareOrdinal(day, first) < 0 || string.CompareOrdinal(day, last) > 0)
                continue;
            if (subtree is not null && !subtree.Contains(reader.GetString(4)))
                continue;
            if (!reader.IsDBNull(6) && string.CompareOrdinal(reader.GetString(6), asOfText) <= 0)
                continue;
            ref var sum = ref CollectionsMarshal.GetValueRefOrNullRef(running.Sums!, reader.GetString(1));
            if (Unsafe.IsNullRef(ref sum))
                continue; // an inactive metric: not in the report
            var quantity = reader.GetInt64(2);
            running.Digest!.Add(id, quantity);
            running.Kept!.Add(id, quantity);
            sum = (sum.Value + quantity, sum.Events + 1);
        }
    }

    /// <summary>Whether the year's events (in the subtree) are at least an eighth of all events, by the monthly rollups.</summary>
    private static async Task<bool> IsLargeShareAsync(DbConnection connection, DbTransaction transaction, int year,
        string? orgUnit, CancellationToken ct)
    {
        var (share, all) = await connection.QuerySingleAsync<(long Share, long All)>(new CommandDefinition(
            $"""
            SELECT coalesce(sum(CASE WHEN month BETWEEN @first AND @last
                {(orgUnit is null ? "" : "AND org_unit IN (SELECT descendant FROM org_unit_closure WHERE ancestor = @orgUnit)")}
                THEN events END), 0),
                   coalesce(sum(events), 0)
            FROM monthly_unit_rollups
            """, new { first = $"{year:D4}-01", last = $"{year:D4}-12", orgUnit }, transaction, cancellationToken: ct));
        return all > 0 && share * 8 >= all;
    }

    private static Task<bool> VoidedAfterAsync(DbConnection connection, DbTransaction transaction, string asOf,
        CancellationToken ct) =>
        connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            "SELECT EXISTS (SELECT 1 FROM asof_voids WHERE voided_at > @asOf)", new { asOf }, transaction, cancellationToken: ct));

    /// <summary>The greatest id recorded by asOf: every event up to it has been looked at.</summary>
    private static async Task<string?> HighWaterAsync(DbConnection connection, DbTransaction transaction, string asOf,
        CancellationToken ct)
    {
        // Newest first; events recorded after asOf (committed while this count ran) are few and end the walk quickly.
        await using var reader = await connection.ExecuteReaderAsync(new CommandDefinition(
            "SELECT id, recorded_at FROM events ORDER BY seq DESC", transaction: transaction, cancellationToken: ct));
        while (await reader.ReadAsync(ct))
        {
            if (string.CompareOrdinal(reader.GetString(1), asOf) <= 0)
                return reader.GetString(0);
        }
        return null;
    }

    private void DropLeastRecent()
    {
        var oldest = _kept.OrderBy(k => k.Value.LastUsed).FirstOrDefault();
        if (oldest.Value is null || !_kept.TryRemove(oldest))
            return;
        logger.LogDebug("Report count for {Year} {OrgUnit} dropped", oldest.Key.Year, oldest.Key.OrgUnit ?? "(all)");
        // Whoever holds it finishes first; the state is then released.
        oldest.Value.Gate.Wait();
        oldest.Value.Reset();
        oldest.Value.Gate.Release();
    }

    /// <summary>A running count of one year and unit; touched only under <see cref="Gate"/>.</summary>
    private sealed class Running
    {
        private static readonly RewriteMark Unset = new(-1, -1);

        public SemaphoreSlim Gate { get; } = new(1, 1);
        public long LastUsed { get; set; }
        public RewriteMark Rewrites { get; set; } = Unset;
        public CatalogSnapshot? Catalog { get; set; }
        public ReportDigest? Digest { get; set; }
        public SetDigest? Kept { get; set; }
        public Dictionary<string, (long Value, long Events)>? Sums { get; set; }
        public string? HighWater { get; set; }

        public CountedFigures Figures() => new(new Dictionary<string, (long, long)>(Sums!, StringComparer.Ordinal), Digest!.Current(), Kept!.Current());

        public void Reset()
        {
            Digest?.Dispose();
            (Digest, Kept, Sums, HighWater, Catalog, Rewrites) = (null, null, null, null, null, Unset);
        }
    }
}
