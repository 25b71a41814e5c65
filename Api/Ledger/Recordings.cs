namespace Tally.Api.Ledger;

/// <summary>
/// Keeps unit_month_recordings: for each (metric, month, org unit) cell with active events, the first and the last
/// recordedAt of its active events, in the writer's transaction. Reporting status reads "when did this unit report,
/// and when did it last record" from it and monthly_unit_rollups, never from the events. A new event can only widen
/// the span; a void that removes the first or last one recomputes the cell from its active events (an indexed range
/// of one unit's month), and a cell left without active events loses its row. A supersede that keeps its event in
/// the same cell is a correction, not a withdrawal: the cell keeps its first time, so correcting a figure after the due
/// day does not make an on-time report late.
/// </summary>
public static class Recordings
{
    /// <summary>Widens the cell's span by an event recorded at <paramref name="recordedAt"/> (storage form).</summary>
    public static void Added(LedgerContext context, string metric, string month, string orgUnit, string first, string last) =>
        context.Write(
            """
            INSERT INTO unit_month_recordings (metric, month, org_unit, first_recorded_at, last_recorded_at)
            VALUES (@metric, @month, @orgUnit, @first, @last)
            ON CONFLICT (metric, month, org_unit) DO UPDATE
            SET first_recorded_at = CASE WHEN excluded.first_recorded_at < unit_month_recordings.first_recorded_at
                                         THEN excluded.first_recorded_at ELSE unit_month_recordings.first_recorded_at END,
                last_recorded_at = CASE WHEN excluded.last_recorded_at > unit_month_recordings.last_recorded_at
                                        THEN excluded.last_recorded_at ELSE unit_month_recordings.last_recorded_at END
            """)
            .Bind("@metric", metric).Bind("@month", month).Bind("@orgUnit", orgUnit).Bind("@first", first).Bind("@last", last)
            .Send();

    public static void Added(LedgerContext context, EventRow row) =>
        Added(context, row.Metric, row.OccurredOn[..7], row.OrgUnit, row.RecordedAt, row.RecordedAt);

    /// <summary>The span of a cell's active events: one range of ix_events_unit_day (a unit's month), filtered by metric.</summary>
    public const string ActiveSpanQuery =
        """
        SELECT min(recorded_at), max(recorded_at) FROM events
        WHERE org_unit = @orgUnit AND occurred_on BETWEEN @month || '-01' AND @month || '-31'
          AND metric = @metric AND voided_at IS NULL
        """;

    /// <summary>After <paramref name="row"/> was voided (and taken out of the rollups): the cell's span over what is still active.</summary>
    public static void Removed(LedgerContext context, EventRow row)
    {
        var month = row.OccurredOn[..7];
        context.Write(
            $"""
            DELETE FROM unit_month_recordings
            WHERE metric = @metric AND month = @month AND org_unit = @orgUnit
              AND NOT EXISTS (SELECT 1 FROM monthly_unit_rollups
                              WHERE metric = @metric AND month = @month AND org_unit = @orgUnit);
            UPDATE unit_month_recordings
            SET (first_recorded_at, last_recorded_at) = ({ActiveSpanQuery})
            WHERE metric = @metric AND month = @month AND org_unit = @orgUnit
              AND @recordedAt IN (first_recorded_at, last_recorded_at);
            """)
            .Bind("@metric", row.Metric).Bind("@month", month).Bind("@orgUnit", row.OrgUnit).Bind("@recordedAt", row.RecordedAt)
            .Send();
    }

    /// <summary>Whether two events fall in the same (metric, month, org unit) cell.</summary>
    public static bool SameCell(EventRow a, string metric, string occurredOn, string orgUnit) =>
        a.Metric == metric && a.OrgUnit == orgUnit && string.CompareOrdinal(a.OccurredOn, 0, occurredOn, 0, 7) == 0;
}
