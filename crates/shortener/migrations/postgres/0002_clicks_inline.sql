-- One row per (link, day) carries the day's clicks without a referrer and per user-agent
-- family, so a link clicked in a batch writes one row, not three (day, 'direct' host,
-- family). Rows written before this migration keep those counts in shortener_referrers
-- (host 'direct') and shortener_agents; stats add both.
ALTER TABLE shortener_clicks_daily
    ADD COLUMN IF NOT EXISTS direct BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS agent_curl BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS agent_wget BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS agent_bot BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS agent_edge BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS agent_opera BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS agent_firefox BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS agent_chrome BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS agent_safari BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS agent_other BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS agent_unknown BIGINT NOT NULL DEFAULT 0;
