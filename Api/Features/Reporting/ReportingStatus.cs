using Dapper;
using System.Data.Common;
using Tally.Api.Data;
using Tally.Api.Ledger;

namespace Tally.Api.Features.Reporting;

public sealed class ReportingStatusResponse
{
    public required string Plan { get; init; }
    public required string Period { get; init; }
    public required DateOnly DueOn { get; init; }

    /// <summary>The first instant after the due day in the office's zone: reports before it are on time.</summary>
    public required DateTimeOffset DueBy { get; init; }

    public required ReportingSummary Summary { get; init; }
    public required IReadOnlyList<ReporterStatus> Units { get; init; }
}

/// <summary>Counts of reporters; every count is of distinct reporters, so rate and onTimeRate lie between 0 and 1.</summary>
public sealed class ReportingSummary
{
    public required int Expected { get; init; }
    public required int Reported { get; init; }
    public required int OnTime { get; init; }
    public required int Submitted { get; init; }
    public required int Approved { get; init; }
    public required double Rate { get; init; }
    public required double OnTimeRate { get; init; }
}

public sealed class ReporterStatus
{
    public required string OrgUnit { get; init; }
    public required string Name { get; init; }

    /// <summary>missing, reported, submitted, approved or returned.</summary>
    public required string State { get; init; }

    public required int MetricsReported { get; init; }
    public required int MetricsExpected { get; init; }
    public required DateTimeOffset? LastRecordedAt { get; init; }

    /// <summary>When the unit had reported: every metric recorded, or its period submitted, whichever came first.</summary>
    public required DateTimeOffset? ReportedAt { get; init; }

    public required DateTimeOffset? SubmittedAt { get; init; }

    /// <summary>Reported by the end of the due day; false for a unit not reported once the due day is over; null before.</summary>
    public required bool? OnTime { get; init; }

    public required DateTimeOffset? ApprovedAt { get; init; }
    public required string? ReturnReason { get; init; }

    /// <summary>The unit's latest submission of the period (the one to approve or return), or null.</summary>
    public required string? SubmissionId { get; init; }
}

/// <summary>
/// A plan's period, reporter by reporter, from kept data only: which plan metrics each unit has active events for
/// (monthly_unit_rollups), when those cells were first and last recorded (unit_month_recordings) and the period's
/// submissions; never a scan of events. A unit's own events count (not its descendants'): each unit reports for itself.
/// </summary>
public static class ReportingStatus
{
    public static async Task<ReportingStatusResponse> ComputeAsync(DbConnection connection, PlanRow plan, ReportingPeriod period,
        IReadOnlyList<string> reporters, CatalogSnapshot catalog, TimeProvider clock, CancellationToken ct)
    {
        var metrics = plan.MetricList;
        var dueOn = period.DueOn(plan.DueDays);
        var dueBy = ReportingPeriod.EndOfDay(dueOn, clock.LocalTimeZone);
        var now = clock.GetUtcNow();
        var wanted = reporters.ToHashSet(StringComparer.Ordinal);

        await using var transaction = connection.BeginSnapshot();
        // Per unit: plan metrics with active events in the period, and per metric the first recording in the period.
        var cells = new Dictionary<string, UnitCells>(StringComparer.Ordinal);
        var sql = Sql.Of(connection);
        await using (var reader = await connection.ExecuteReaderAsync(new CommandDefinition(
            $"""
            SELECT r.org_unit, r.metric, min(c.first_recorded_at), max(c.last_recorded_at)
            FROM monthly_unit_rollups r
            LEFT JOIN unit_month_recordings c ON c.metric = r.metric AND c.month = r.month AND c.org_unit = r.org_unit
            WHERE {sql.InList("r.metric", "metrics")} AND r.month BETWEEN @from AND @to
            GROUP BY r.org_unit, r.metric
            """, new { metrics, from = period.FirstMonth, to = period.LastMonth }, transaction, cancellationToken: ct)))
        {
            while (await reader.ReadAsync(ct))
            {
                var unit = reader.GetString(0);
                if (!wanted.Contains(unit))
                    continue;
                if (!cells.TryGetValue(unit, out var c))
                    cells[unit] = c = new UnitCells();
                c.Metrics++;
                var first = reader.IsDBNull(2) ? null : reader.GetString(2);
                var last = reader.IsDBNull(3) ? null : reader.GetString(3);
                // The unit had every metric once the last of its metrics' first recordings came.
                if (first is not null && (c.CoveredAt is null || string.CompareOrdinal(first, c.CoveredAt) > 0))
                    c.CoveredAt = first;
                if (last is not null && (c.LastRecordedAt is null || string.CompareOrdinal(last, c.LastRecordedAt) > 0))
                    c.LastRecordedAt = last;
            }
        }
        // The latest submission of each unit decides its state (ids are time-ordered).
        var latest = new Dictionary<string, SubmissionRow>(StringComparer.Ordinal);
        foreach (var row in await connection.QueryAsync<SubmissionRow>(new CommandDefinition(
                     $"SELECT {SubmissionRow.Columns} FROM reporting_submissions WHERE plan = @plan AND period = @period ORDER BY id",
                     new { plan = plan.Code, period = period.Name }, transaction, cancellationToken: ct)))
            latest[row.OrgUnit] = row;

        var units = new List<ReporterStatus>(reporters.Count);
        foreach (var code in reporters)
        {
            var c = cells.GetValueOrDefault(code);
            var submission = latest.GetValueOrDefault(code);
            var covered = c is not null && c.Metrics >= metrics.Count;
            var live = submission is { IsLive: true };
            DateTimeOffset? coveredAt = covered && c!.CoveredAt is not null ? Instant.FromStorage(c.CoveredAt) : null;
            DateTimeOffset? submittedAt = live ? submission!.SubmittedAt : null;
            var reported = covered || live;
            DateTimeOffset? reportedAt = (coveredAt, submittedAt) switch
            {
                ({ } a, { } b) => a < b ? a : b,
                ({ } a, null) => a,
                (null, { } b) => b,
                _ => null,
            };
            units.Add(new ReporterStatus
            {
                OrgUnit = code,
                Name = catalog.OrgUnits.TryGetValue(code, out var unit) ? unit.Name : code,
                State = submission?.State ?? (covered ? "reported" : "missing"),
                MetricsReported = c?.Metrics ?? 0,
                MetricsExpected = metrics.Count,
                LastRecordedAt = c?.LastRecordedAt is { } last ? Instant.FromStorage(last) : null,
                ReportedAt = reported ? reportedAt : null,
                SubmittedAt = submission?.SubmittedAt,
                OnTime = reported && reportedAt is { } at ? at < dueBy : now >= dueBy ? false : null,
                ApprovedAt = submission is { State: SubmissionRow.Approved } ? submission.DecidedAt : null,
                ReturnReason = submission?.State == SubmissionRow.Returned ? submission.ReturnReason : null,
                SubmissionId = submission?.Id,
            });
        }
        var expected = units.Count;
        var reportedCount = units.Count(u => u.ReportedAt is not null);
        var onTime = units.Count(u => u.OnTime == true);
        return new ReportingStatusResponse
        {
            Plan = plan.Code, Period = period.Name, DueOn = dueOn, DueBy = dueBy,
            Summary = new ReportingSummary
            {
                Expected = expected, Reported = reportedCount, OnTime = onTime,
                Submitted = units.Count(u => u.State is SubmissionRow.Submitted or SubmissionRow.Approved),
                Approved = units.Count(u => u.State == SubmissionRow.Approved),
                Rate = Share(reportedCount, expected), OnTimeRate = Share(onTime, expected),
            },
            Units = units,
        };
    }

    /// <summary>part / whole, 0 for no whole; part counts distinct reporters among whole, so never above 1.</summary>
    private static double Share(int part, int whole) => whole == 0 ? 0 : Math.Min(1.0, Math.Round((double)part / whole, 4));

    private sealed class UnitCells
    {
        public int Metrics { get; set; }
        public string? CoveredAt { get; set; }
        public string? LastRecordedAt { get; set; }
    }
}
