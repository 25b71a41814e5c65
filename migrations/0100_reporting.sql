-- Reporting up the tree: plans (who owes which metrics, how often, due when), submissions of a unit's period, the
-- cells a submission freezes, and when each (metric, month, unit) cell was first and last recorded.

CREATE TABLE reporting_plans (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    metrics     TEXT NOT NULL,             -- JSON array of metric codes, in the plan's order
    frequency   TEXT NOT NULL CHECK (frequency IN ('month', 'quarter', 'year')),
    reporters   TEXT NOT NULL,             -- JSON array of org unit codes
    due_days    INTEGER NOT NULL,
    starts_on   TEXT NOT NULL,             -- yyyy-MM-dd
    ends_on     TEXT,                      -- yyyy-MM-dd, NULL: open-ended
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) WITHOUT ROWID;

-- One row per submission; a returned one stays (history) and a re-submission is a new row. At most one live
-- (submitted or approved) submission per plan, period and unit.
CREATE TABLE reporting_submissions (
    id            TEXT PRIMARY KEY,
    plan          TEXT NOT NULL REFERENCES reporting_plans(code),
    period        TEXT NOT NULL,           -- 2024, 2024-Q3 or 2024-07
    org_unit      TEXT NOT NULL REFERENCES org_units(code),
    state         TEXT NOT NULL CHECK (state IN ('submitted', 'approved', 'returned')),
    submitted_at  TEXT NOT NULL,
    submitted_by  TEXT NOT NULL,           -- key id
    decided_at    TEXT,                    -- approved or returned at
    decided_by    TEXT,
    return_reason TEXT
) WITHOUT ROWID;
CREATE UNIQUE INDEX ux_reporting_submissions_live ON reporting_submissions(plan, period, org_unit)
    WHERE state IN ('submitted', 'approved');
-- GET /reporting/status and /reporting/submissions: one plan's period.
CREATE INDEX ix_reporting_submissions_plan_period ON reporting_submissions(plan, period, org_unit);

-- The (unit, metric, month) cells a live submission freezes: the write policy refuses any write into one (a plain
-- primary-key seek per cell), and approvedOnly totals join them. Deleted when the submission is returned.
CREATE TABLE reporting_frozen_cells (
    org_unit      TEXT NOT NULL,
    metric        TEXT NOT NULL,
    month         TEXT NOT NULL,           -- yyyy-MM
    submission_id TEXT NOT NULL REFERENCES reporting_submissions(id),
    PRIMARY KEY (org_unit, metric, month, submission_id)
) WITHOUT ROWID;
-- approvedOnly totals: cells of one metric and month range.
CREATE INDEX ix_reporting_frozen_cells_metric ON reporting_frozen_cells(metric, month, org_unit);

-- When each cell of monthly_unit_rollups was first and last recorded, kept beside it in the writer's transaction
-- (Ledger/Recordings.cs), so reporting status says when a unit reported without scanning events.
CREATE TABLE unit_month_recordings (
    metric            TEXT NOT NULL,
    month             TEXT NOT NULL,       -- yyyy-MM
    org_unit          TEXT NOT NULL,
    first_recorded_at TEXT NOT NULL,
    last_recorded_at  TEXT NOT NULL,
    PRIMARY KEY (metric, month, org_unit)
) WITHOUT ROWID;

INSERT INTO unit_month_recordings (metric, month, org_unit, first_recorded_at, last_recorded_at)
SELECT metric, substr(occurred_on, 1, 7), org_unit, min(recorded_at), max(recorded_at)
FROM events
WHERE voided_at IS NULL
GROUP BY metric, substr(occurred_on, 1, 7), org_unit;
