-- One row per (link, day) carries the day's clicks without a referrer and per user-agent
-- family, so a link clicked in a batch writes one row, not three (day, 'direct' host,
-- family). Rows written before this migration keep those counts in shortener_referrers
-- (host 'direct') and shortener_agents; stats add both.
ALTER TABLE shortener_clicks_daily ADD COLUMN direct INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shortener_clicks_daily ADD COLUMN agent_curl INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shortener_clicks_daily ADD COLUMN agent_wget INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shortener_clicks_daily ADD COLUMN agent_bot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shortener_clicks_daily ADD COLUMN agent_edge INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shortener_clicks_daily ADD COLUMN agent_opera INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shortener_clicks_daily ADD COLUMN agent_firefox INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shortener_clicks_daily ADD COLUMN agent_chrome INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shortener_clicks_daily ADD COLUMN agent_safari INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shortener_clicks_daily ADD COLUMN agent_other INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shortener_clicks_daily ADD COLUMN agent_unknown INTEGER NOT NULL DEFAULT 0;
