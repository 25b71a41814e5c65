using System.Text.Json;
using Tally.Api.Data;
using Tally.Api.Problems;

namespace Tally.Api.Ledger;

/// <summary>
/// The one decision of what becomes of an event that comes in, whichever door it came by (a single POST, a batch item,
/// an upsert, an import row): created, unchanged, an idempotency conflict, or a supersede of the event its
/// (source, externalId) names; refused when a year it writes is locked, when a (unit, metric, month) cell it writes
/// belongs to a reporting period its unit has submitted (or that was approved), or when it would supersede an event in
/// an org unit the caller cannot reach. It decides only (reading what it must); the caller writes what it decided. One
/// instance per command: period locks are looked up once per year, since they cannot change inside one command. The
/// messages of its refusals are written only here.
/// </summary>
public sealed class EventWritePolicy(LedgerContext context, Recorder recorder, Func<string, bool>? canReach = null)
{
    private readonly Dictionary<int, bool> _lockedYears = [];
    private readonly Dictionary<(string OrgUnit, string Metric, string Month), string?> _submittedCells = [];
    private HashSet<string>? _prefetched;
    private Dictionary<string, EventRow>? _heads;
    private Dictionary<string, string>? _holds;

    public Recorder Recorder => recorder;

    /// <summary>The import this policy decides for, if any: the externalIds it holds are not held against itself.</summary>
    public string? ForImport { get; init; }

    /// <summary>
    /// The current (not superseded) stored event of the caller's source under this externalId; 503 when a running import
    /// holds it (<see cref="StagedEvents"/>): it will create that event, or decided against its head, and the answer
    /// depends on whether it commits.
    /// </summary>
    public EventRow? StoredHead(string externalId)
    {
        if (_prefetched?.Contains(externalId) == true)
            return _holds!.TryGetValue(externalId, out var holder) && holder != ForImport
                ? throw HeldByImport(externalId, holder)
                : _heads!.GetValueOrDefault(externalId);
        using var reader = context.Prepared(HeadAndHoldQuery)
            .Bind("@source", recorder.Source).Bind("@externalId", externalId).ExecuteReader();
        reader.Read();
        var holdOrdinal = reader.FieldCount - 1;
        if (!reader.IsDBNull(holdOrdinal) && reader.GetString(holdOrdinal) is var importId && importId != ForImport)
            throw HeldByImport(externalId, importId);
        return reader.IsDBNull(0) ? null : EventRow.Read(reader);
    }

    /// <summary>
    /// One row: the head event's columns (all null when there is none), then the import holding the externalId (or
    /// null). One statement, so one round trip on PostgreSQL, for the two seeks of every write with an externalId.
    /// </summary>
    private const string HeadAndHoldQuery =
        $"""
        SELECT h.*, ({StagedEvents.HeldByQuery} LIMIT 1) AS held_by
        FROM (SELECT 1 AS one) AS o
        LEFT JOIN ({EventLedger.HeadQuery}) AS h ON 1 = 1
        """;

    /// <summary>
    /// Looks up the stored heads of many externalIds, and the imports holding any of them, in two statements instead of
    /// two seeks per item: a batch's items then find theirs in memory. The ids go as one parameter (a JSON array on
    /// SQLite, an array on PostgreSQL), so each statement is prepared once per connection and binds one value: a list
    /// of one parameter per id made SQLite look each name up among all the others (quadratic in the ids; 40% of the
    /// writer's time in a batch of 10,000). Nothing else writes inside the command, so the answers stay true.
    /// </summary>
    public void Prefetch(IEnumerable<string> externalIds)
    {
        var ids = externalIds.Distinct(StringComparer.Ordinal).ToArray();
        if (ids.Length < 2)
            return;
        object list = context.OnPostgres ? ids : JsonSerializer.Serialize(ids);
        var heads = new Dictionary<string, EventRow>(StringComparer.Ordinal);
        var holds = new Dictionary<string, string>(StringComparer.Ordinal);
        using (var reader = context.Prepared(context.OnPostgres ? HoldsOfPostgres : HoldsOfSqlite)
                   .Bind("@source", recorder.Source).Bind("@ids", list).ExecuteReader())
        {
            while (reader.Read())
                holds.TryAdd(reader.GetString(0), reader.GetString(1));
        }
        using (var reader = context.Prepared(context.OnPostgres ? HeadsOfPostgres : HeadsOfSqlite)
                   .Bind("@source", recorder.Source).Bind("@ids", list).ExecuteReader())
        {
            while (reader.Read())
            {
                var row = EventRow.Read(reader);
                heads[row.ExternalId!] = row;
            }
        }
        (_prefetched, _heads, _holds) = (ids.ToHashSet(StringComparer.Ordinal), heads, holds);
    }

    // Both stores seek the head index once per id, the ids' list outside (a CROSS JOIN keeps SQLite's order). On
    // PostgreSQL, planned from the statistics of a young table, an = ANY(array) filter would read all of a source's rows
    // instead. The LIMIT 1 (each key is unique) keeps the lateral subquery from being pulled up into a join: before a
    // table's first ANALYZE the planner would otherwise put events outside, seek it by source alone and filter every
    // head of the source against each id (about 1 s per 500 ids at 60,000 events, so batches slowed with every batch
    // until autovacuum's first analyze).
    public const string HeadsOfSqlite =
        $"""
        SELECT {EventRow.Columns} FROM (SELECT value AS wanted FROM json_each(@ids)) AS k
        CROSS JOIN events
        WHERE source = @source AND external_id = k.wanted AND external_id IS NOT NULL AND superseded_by IS NULL
        """;

    public const string HeadsOfPostgres =
        $"""
        SELECT h.* FROM unnest(@ids::text[]) AS k(external_id)
        CROSS JOIN LATERAL (SELECT {EventRow.Columns} FROM events
                            WHERE source = @source AND external_id = k.external_id AND superseded_by IS NULL LIMIT 1) h
        """;

    public const string HoldsOfSqlite =
        """
        SELECT external_id, import_id FROM (SELECT value AS wanted FROM json_each(@ids)) AS k
        CROSS JOIN import_staged_events
        WHERE source = @source AND external_id = k.wanted AND external_id IS NOT NULL
        """;

    public const string HoldsOfPostgres =
        """
        SELECT h.external_id, h.import_id FROM unnest(@ids::text[]) AS k(external_id)
        CROSS JOIN LATERAL (SELECT external_id, import_id FROM import_staged_events
                            WHERE source = @source AND external_id = k.external_id LIMIT 1) h
        """;

    /// <summary>503: the externalId is held by an import that is storing it; retrying after it ends gets the settled answer.</summary>
    public static ProblemException HeldByImport(string externalId, string importId) => ProblemException.Unavailable(
        Text.Say($"本来源的外部编号“{externalId}”正由进行中的导入 {importId} 保存，本次请求未保存任何内容；请在该导入结束后重试。",
            $"externalId '{externalId}' of this source is being stored by import {importId}, which is still running; nothing of this request was stored. Retry once it ends."),
        TimeSpan.FromSeconds(5));

    /// <summary>
    /// The decision against the stored event the input's externalId names (null: none). <paramref name="mayReplace"/>
    /// (an upsert) turns other content from a conflict into a supersede.
    /// </summary>
    public RecordStatus Decide(NewEvent input, EventRow? stored, bool mayReplace)
    {
        if (stored is null)
        {
            RequireWritable(input);
            return RecordStatus.Created;
        }
        if (input.SameContentAs(stored))
            return RecordStatus.Unchanged;
        if (!mayReplace)
            return RecordStatus.Conflict;
        var reach = canReach ?? throw new InvalidOperationException("A policy that may supersede knows the caller's reach.");
        if (!reach(stored.OrgUnit))
            throw Unreachable(input.ExternalId!);
        RequireWritable(stored);
        RequireWritable(input);
        return RecordStatus.Superseded;
    }

    /// <summary>
    /// The decision against an earlier item of the same request under the same externalId, whose reach and year were
    /// checked when it was decided. <paramref name="sameContent"/> must come from an exact comparison
    /// (<see cref="NewEvent.SameContentAs(NewEvent)"/> or <see cref="NewEvent.SameContentAs(EventRow)"/>), never from a hash alone.
    /// </summary>
    public RecordStatus DecideAfterEarlier(NewEvent input, bool sameContent, bool mayReplace)
    {
        if (sameContent)
            return RecordStatus.Unchanged;
        if (!mayReplace)
            return RecordStatus.Conflict;
        RequireWritable(input);
        return RecordStatus.Superseded;
    }

    /// <summary>A new event may be written: its year is open and its reporting period not submitted.</summary>
    public void RequireWritable(NewEvent input) => RequireWritable(input.OrgUnit, input.Metric, Day.ToStorage(input.OccurredOn)[..7]);

    /// <summary>A stored event may be rewritten (voided or superseded): its year is open and its reporting period not submitted.</summary>
    public void RequireWritable(EventRow stored) => RequireWritable(stored.OrgUnit, stored.Metric, stored.OccurredOn[..7]);

    /// <summary>The (unit, metric, month) cell may be written: its year (of <paramref name="month"/>, yyyy-MM) open, its period not submitted.</summary>
    public void RequireWritable(string orgUnit, string metric, string month)
    {
        var year = int.Parse(month.AsSpan(0, 4), System.Globalization.CultureInfo.InvariantCulture);
        var cell = (orgUnit, metric, month);
        if (!_lockedYears.ContainsKey(year) && !_submittedCells.ContainsKey(cell))
        {
            // Neither known yet (the first cell of a command): both looked up in one statement.
            using var reader = context.Prepared(LockAndSubmissionQuery)
                .Bind("@year", year).Bind("@orgUnit", orgUnit).Bind("@metric", metric).Bind("@month", month).ExecuteReader();
            reader.Read();
            _lockedYears[year] = reader.GetValue(0) switch { bool flag => flag, long number => number != 0, _ => false };
            _submittedCells[cell] = reader.IsDBNull(1) ? null : reader.GetString(1);
        }
        RequireOpenYear(year);
        RequireUnsubmitted(orgUnit, metric, month);
    }

    private void RequireUnsubmitted(string orgUnit, string metric, string month)
    {
        var cell = (orgUnit, metric, month);
        if (!_submittedCells.TryGetValue(cell, out var period))
            _submittedCells[cell] = period = SubmittedPeriod(context, orgUnit, metric, month);
        if (period is not null)
            throw PeriodSubmitted(orgUnit, metric, period);
    }

    /// <summary>"plan period" of the live submission that freezes the cell, or null: reporting_frozen_cells, one key seek.</summary>
    internal static string? SubmittedPeriod(LedgerContext context, string orgUnit, string metric, string month) =>
        context.Prepared(SubmittedPeriodQuery)
            .Bind("@orgUnit", orgUnit).Bind("@metric", metric).Bind("@month", month).ExecuteScalar() as string;

    private const string SubmittedPeriodQuery =
        """
        SELECT s.plan || ' ' || s.period
        FROM reporting_frozen_cells c JOIN reporting_submissions s ON s.id = c.submission_id
        WHERE c.org_unit = @orgUnit AND c.metric = @metric AND c.month = @month
        LIMIT 1
        """;

    private const string LockedYearQuery = "SELECT EXISTS (SELECT 1 FROM periods WHERE year = @year AND locked = 1)";

    /// <summary>Whether the year is locked, and the cell's submitted period (or null), in one row.</summary>
    private const string LockAndSubmissionQuery = $"SELECT ({LockedYearQuery}), ({SubmittedPeriodQuery})";

    /// <summary>409 period-submitted: a write into a (unit, metric, period) its unit has submitted or that was approved.</summary>
    public static ProblemException PeriodSubmitted(string orgUnit, string metric, string planAndPeriod)
    {
        var space = planAndPeriod.IndexOf(' ', StringComparison.Ordinal);
        var (plan, period) = (planAndPeriod[..space], planAndPeriod[(space + 1)..]);
        return new(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.PeriodSubmitted,
            Text.Say("报送期已提交", "Period submitted"),
            Text.Say($"单位 {orgUnit} 已提交报送计划 {plan} 的 {period} 期，指标 {metric} 的数据已冻结（退回后方可修改）；本次请求未保存任何内容。",
                $"Org unit {orgUnit} has submitted period {period} of reporting plan {plan}: its {metric} figures are frozen "
                + "until the period is returned; nothing of this request was stored.")));
    }

    private void RequireOpenYear(int year)
    {
        if (!_lockedYears.TryGetValue(year, out var locked))
            _lockedYears[year] = locked = IsLocked(context, year);
        if (locked)
            throw PeriodLocked(year);
    }

    internal static bool IsLocked(LedgerContext context, int year) =>
        context.Prepared(LockedYearQuery).Bind("@year", year).ExecuteFlag();

    /// <summary>409 period-locked: a write into a locked year.</summary>
    public static ProblemException PeriodLocked(int year) =>
        new(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.PeriodLocked,
            Text.Say("年度已锁定", "Period locked"), Text.Say($"{year} 年已锁定，本次请求的内容均未保存。",
                $"The year {year} is locked; nothing of this request was stored.")));

    /// <summary>403: a supersede would rewrite an event in an org unit the key cannot reach (named neither: it learns nothing).</summary>
    public static ProblemException Unreachable(string externalId) => ProblemException.Forbidden(
        Text.Say($"本来源的外部编号“{externalId}”对应的事件不在此 API 密钥的填报单位之内，此密钥无法替换它。",
            $"externalId '{externalId}' of this source names an event outside this API key's org unit; this key cannot supersede it."));

    /// <summary>
    /// Why an input conflicts with the stored event its externalId names. The event is named only when the caller can
    /// reach it: keys of one source may sit in sibling units, and a refusal never reveals another unit's events.
    /// </summary>
    public string ConflictWithStored(string externalId, EventRow stored) =>
        canReach?.Invoke(stored.OrgUnit) == true
            ? Text.Say($"本来源已用外部编号“{externalId}”记录了内容不同的事件 {stored.Id}。",
                $"externalId '{externalId}' was already used by this source for event {stored.Id} with other content.")
            : Text.Say($"本来源已用外部编号“{externalId}”记录了内容不同的事件。",
                $"externalId '{externalId}' was already used by this source with other content.");

    /// <summary>Why an input conflicts with an earlier item of the same request ("events[2] of this batch").</summary>
    public static string ConflictWithEarlier(string externalId, string earlier) =>
        Text.Say($"外部编号“{externalId}”已被{earlier}以不同内容使用。", $"externalId '{externalId}' is used by {earlier} with other content.");

    /// <summary>
    /// 409 idempotency-conflict: errors name each conflicting input by its field (externalId, events[i].externalId) with
    /// its message; nothing of the request was stored.
    /// </summary>
    public static ProblemException IdempotencyConflict(IReadOnlyDictionary<string, string[]> conflicts) =>
        new(Problem.Make(StatusCodes.Status409Conflict, ProblemTypes.IdempotencyConflict, Text.Say("外部编号冲突", "Idempotency conflict"),
            conflicts.Count == 1
                ? conflicts.Values.Single()[0]
                : Text.Say($"有 {conflicts.Count} 项以不同内容重复使用了本来源的外部编号，均未保存。",
                    $"{conflicts.Count} item(s) reuse an externalId of this source with other content; nothing was stored."),
            conflicts.ToDictionary()));
}
