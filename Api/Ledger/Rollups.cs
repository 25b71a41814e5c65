using Tally.Api.Data;

namespace Tally.Api.Ledger;

/// <summary>
/// Keeps daily_rollups, monthly_rollups and monthly_unit_rollups equal to the sums of active events, in the writer's
/// transaction: +1 for a new event, -1 for a void. Also the as-of rollups (migrations 0130, 0140), the same sums per
/// month also keyed by the UTC hour of the change: +1 at the hour of recorded_at, -1 at the hour of the void (the
/// group's instant, which is the voided_at written), with the kept digest's limbs (<see cref="SetDigest"/>); those are
/// summed per key over the group and written once before it commits, and their day and month levels summed from the
/// hour rows once the hour has closed (<see cref="AsOfChanges"/>).
/// </summary>
public static class Rollups
{
    public static void Add(LedgerContext context, EventRow row, int sign)
    {
        Upsert(context, RollupKey.Of(row), sign * row.Quantity, sign);
        var changedAt = sign > 0 ? row.RecordedAt : Instant.ToStorage(context.Now);
        context.AsOf.Add(row, changedAt, sign);
        if (sign < 0)
            context.Write("INSERT INTO asof_voids (voided_at, event_id) VALUES (@at, @id)")
                .Bind("@at", changedAt).Bind("@id", row.Id).Send();
    }

    /// <summary>
    /// Adds a change to the as-of hour rows of one key (the wide row, with campaign and dimensions, and the unit row, with
    /// the digest limbs); rows are never removed (they sum changes, not events). The day and month levels are summed
    /// from the hour rows once the hour has closed (<see cref="AsOfChanges"/>).
    /// </summary>
    internal static void UpsertAsOf(LedgerContext context, AsOfKey key, long value, int events, ReadOnlySpan<long> limbs)
    {
        context.Write(
            """
            INSERT INTO asof_hour_rollups (metric, month, org_unit, campaign, dimensions, changed, value, events)
            VALUES (@metric, @month, @orgUnit, @campaign, @dimensions, @changed, @value, @events)
            ON CONFLICT (metric, month, org_unit, campaign, dimensions, changed)
            DO UPDATE SET value = asof_hour_rollups.value + excluded.value, events = asof_hour_rollups.events + excluded.events;
            INSERT INTO asof_unit_hour_rollups (metric, month, org_unit, changed, value, events, d0, d1, d2, d3, d4, d5, d6, d7)
            VALUES (@metric, @month, @orgUnit, @changed, @value, @events, @d0, @d1, @d2, @d3, @d4, @d5, @d6, @d7)
            ON CONFLICT (metric, month, org_unit, changed)
            DO UPDATE SET value = asof_unit_hour_rollups.value + excluded.value, events = asof_unit_hour_rollups.events + excluded.events,
                d0 = asof_unit_hour_rollups.d0 + excluded.d0, d1 = asof_unit_hour_rollups.d1 + excluded.d1, d2 = asof_unit_hour_rollups.d2 + excluded.d2, d3 = asof_unit_hour_rollups.d3 + excluded.d3,
                d4 = asof_unit_hour_rollups.d4 + excluded.d4, d5 = asof_unit_hour_rollups.d5 + excluded.d5, d6 = asof_unit_hour_rollups.d6 + excluded.d6, d7 = asof_unit_hour_rollups.d7 + excluded.d7;
            """)
            .Bind("@metric", key.Metric).Bind("@month", key.Month).Bind("@orgUnit", key.OrgUnit).Bind("@campaign", key.Campaign)
            .Bind("@dimensions", key.Dimensions).Bind("@changed", key.Hour)
            .Bind("@value", value).Bind("@events", events)
            .Bind("@d0", limbs[0]).Bind("@d1", limbs[1]).Bind("@d2", limbs[2]).Bind("@d3", limbs[3])
            .Bind("@d4", limbs[4]).Bind("@d5", limbs[5]).Bind("@d6", limbs[6]).Bind("@d7", limbs[7])
            .Send();
    }

    /// <summary>Adds to the rollup rows of one key; a row whose last event is voided is removed, so no rollup lists an empty combination.</summary>
    internal static void Upsert(LedgerContext context, RollupKey key, long value, int events)
    {
        context.Write(
            """
            INSERT INTO daily_rollups (metric, day, org_unit, campaign, dimensions, value, events)
            VALUES (@metric, @day, @orgUnit, @campaign, @dimensions, @value, @events)
            ON CONFLICT (metric, day, org_unit, campaign, dimensions)
            DO UPDATE SET value = daily_rollups.value + excluded.value, events = daily_rollups.events + excluded.events;
            INSERT INTO monthly_rollups (metric, month, org_unit, campaign, dimensions, value, events)
            VALUES (@metric, @month, @orgUnit, @campaign, @dimensions, @value, @events)
            ON CONFLICT (metric, month, org_unit, campaign, dimensions)
            DO UPDATE SET value = monthly_rollups.value + excluded.value, events = monthly_rollups.events + excluded.events;
            INSERT INTO monthly_unit_rollups (metric, month, org_unit, value, events)
            VALUES (@metric, @month, @orgUnit, @value, @events)
            ON CONFLICT (metric, month, org_unit)
            DO UPDATE SET value = monthly_unit_rollups.value + excluded.value, events = monthly_unit_rollups.events + excluded.events;
            """)
            .Bind("@metric", key.Metric).Bind("@day", key.Day).Bind("@month", key.Day[..7]).Bind("@orgUnit", key.OrgUnit)
            .Bind("@campaign", key.Campaign).Bind("@dimensions", key.Dimensions).Bind("@value", value).Bind("@events", events)
            .Send();
        if (events < 0)
        {
            context.Write(
                """
                DELETE FROM daily_rollups
                WHERE metric = @metric AND day = @day AND org_unit = @orgUnit AND campaign = @campaign
                  AND dimensions = @dimensions AND events = 0;
                DELETE FROM monthly_rollups
                WHERE metric = @metric AND month = @month AND org_unit = @orgUnit AND campaign = @campaign
                  AND dimensions = @dimensions AND events = 0;
                DELETE FROM monthly_unit_rollups
                WHERE metric = @metric AND month = @month AND org_unit = @orgUnit AND events = 0;
                """)
                .Bind("@metric", key.Metric).Bind("@day", key.Day).Bind("@month", key.Day[..7]).Bind("@orgUnit", key.OrgUnit)
                .Bind("@campaign", key.Campaign).Bind("@dimensions", key.Dimensions).Send();
        }
    }
}

/// <summary>One daily_rollups row's key ('' for no campaign, so the key stays a plain primary key).</summary>
internal readonly record struct RollupKey(string Metric, string Day, string OrgUnit, string Campaign, string Dimensions)
{
    public static RollupKey Of(EventRow row) => new(row.Metric, row.OccurredOn, row.OrgUnit, row.Campaign ?? "", row.Dimensions);
}

/// <summary>One as-of rollups key: the month of occurred_on and the UTC hour ('yyyy-MM-ddTHH') of the change.</summary>
internal readonly record struct AsOfKey(string Metric, string Month, string OrgUnit, string Campaign, string Dimensions, string Hour)
{
    public static AsOfKey Of(EventRow row, string changedAt) =>
        new(row.Metric, row.OccurredOn[..7], row.OrgUnit, row.Campaign ?? "", row.Dimensions, AsOfCut.HourOf(changedAt));
}
