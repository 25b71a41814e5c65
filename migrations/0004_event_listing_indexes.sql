-- GET /events and its export page by id within a filter: each common filter gets an index that ends in id, so a
-- page is one ordered range scan that stops after `limit` rows instead of a sort over every match.
CREATE INDEX ix_events_org_unit_id ON events(org_unit, id);
CREATE INDEX ix_events_metric_id ON events(metric, id);
CREATE INDEX ix_events_source_id ON events(source, id);
CREATE INDEX ix_events_campaign_id ON events(campaign, id) WHERE campaign IS NOT NULL;
