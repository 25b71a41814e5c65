using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// Keeps daily_rollups, monthly_rollups and monthly_unit_rollups equal to the sums of active events, in the writer's
/// transaction: +1 for a new event, -1 for a void.
/// </summary>
public static class Rollups
{
    public static void Add(LedgerContext context, EventRow row, int sign) =>
        Upsert(context, RollupKey.Of(row), sign * row.Quantity, sign);

    /// <summary>Adds to the rollup rows of one key; a row whose last event is voided is removed, so no rollup lists an empty combination.</summary>
    internal static void Upsert(LedgerContext context, RollupKey key, long value, int events)
    {
        context.Prepared(
            """
            INSERT INTO daily_rollups (metric, day, org_unit, campaign, dimensions, value, events)
            VALUES ($metric, $day, $orgUnit, $campaign, $dimensions, $value, $events)
            ON CONFLICT (metric, day, org_unit, campaign, dimensions)
            DO UPDATE SET value = value + excluded.value, events = events + excluded.events;
            INSERT INTO monthly_rollups (metric, month, org_unit, campaign, dimensions, value, events)
            VALUES ($metric, $month, $orgUnit, $campaign, $dimensions, $value, $events)
            ON CONFLICT (metric, month, org_unit, campaign, dimensions)
            DO UPDATE SET value = value + excluded.value, events = events + excluded.events;
            INSERT INTO monthly_unit_rollups (metric, month, org_unit, value, events)
            VALUES ($metric, $month, $orgUnit, $value, $events)
            ON CONFLICT (metric, month, org_unit)
            DO UPDATE SET value = value + excluded.value, events = events + excluded.events;
            """)
            .Bind("$metric", key.Metric).Bind("$day", key.Day).Bind("$month", key.Day[..7]).Bind("$orgUnit", key.OrgUnit)
            .Bind("$campaign", key.Campaign).Bind("$dimensions", key.Dimensions).Bind("$value", value).Bind("$events", events)
            .ExecuteNonQuery();
        if (events < 0)
        {
            context.Prepared(
                """
                DELETE FROM daily_rollups
                WHERE metric = $metric AND day = $day AND org_unit = $orgUnit AND campaign = $campaign
                  AND dimensions = $dimensions AND events = 0;
                DELETE FROM monthly_rollups
                WHERE metric = $metric AND month = $month AND org_unit = $orgUnit AND campaign = $campaign
                  AND dimensions = $dimensions AND events = 0;
                DELETE FROM monthly_unit_rollups
                WHERE metric = $metric AND month = $month AND org_unit = $orgUnit AND events = 0;
                """)
                .Bind("$metric", key.Metric).Bind("$day", key.Day).Bind("$month", key.Day[..7]).Bind("$orgUnit", key.OrgUnit)
                .Bind("$campaign", key.Campaign).Bind("$dimensions", key.Dimensions).ExecuteNonQuery();
        }
    }
}

/// <summary>One daily_rollups row's key ('' for no campaign, so the key stays a plain primary key).</summary>
internal readonly record struct RollupKey(string Metric, string Day, string OrgUnit, string Campaign, string Dimensions)
{
    public static RollupKey Of(EventRow row) => new(row.Metric, row.OccurredOn, row.OrgUnit, row.Campaign ?? "", row.Dimensions);
}
