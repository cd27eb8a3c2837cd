-- Links: one row per short code. Times are Unix milliseconds.
CREATE TABLE IF NOT EXISTS shortener_links (
    code        TEXT    NOT NULL PRIMARY KEY,
    long_url    TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT,
    max_clicks  BIGINT  CHECK (max_clicks IS NULL OR max_clicks > 0),
    clicks      BIGINT  NOT NULL DEFAULT 0,
    redirect    BIGINT  NOT NULL DEFAULT 301 CHECK (redirect IN (301, 302)),
    disabled    BOOLEAN NOT NULL DEFAULT FALSE,
    -- The API key that created the link; 0 for none (not NULL: NULLs never collide in a
    -- unique index, and the same URL must map to one code per key).
    api_key_id  BIGINT  NOT NULL DEFAULT 0,
    -- No alias, expiry, click limit or explicit redirect: deduplicated by long URL.
    plain       BOOLEAN NOT NULL DEFAULT FALSE
);

-- Book 8.3.3: the same long URL returns the existing code, also under concurrency.
CREATE UNIQUE INDEX IF NOT EXISTS shortener_links_plain_url
    ON shortener_links (long_url, api_key_id) WHERE plain = TRUE;

CREATE TABLE IF NOT EXISTS shortener_clicks_daily (
    code   TEXT   NOT NULL,
    day    TEXT   NOT NULL,
    clicks BIGINT NOT NULL,
    PRIMARY KEY (code, day)
);

CREATE TABLE IF NOT EXISTS shortener_referrers (
    code   TEXT   NOT NULL,
    host   TEXT   NOT NULL,
    clicks BIGINT NOT NULL,
    PRIMARY KEY (code, host)
);

CREATE TABLE IF NOT EXISTS shortener_agents (
    code   TEXT   NOT NULL,
    family TEXT   NOT NULL,
    clicks BIGINT NOT NULL,
    PRIMARY KEY (code, family)
);

-- API keys: only the SHA-256 of the secret is stored.
CREATE TABLE IF NOT EXISTS shortener_api_keys (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     BIGINT  NOT NULL,
    name        TEXT    NOT NULL,
    prefix      TEXT    NOT NULL,
    secret_hash TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX IF NOT EXISTS shortener_api_keys_user ON shortener_api_keys (user_id);
