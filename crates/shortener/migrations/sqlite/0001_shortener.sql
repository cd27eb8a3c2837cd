-- Links: one row per short code. Times are Unix milliseconds.
CREATE TABLE IF NOT EXISTS shortener_links (
    code        TEXT    NOT NULL PRIMARY KEY,
    long_url    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    max_clicks  INTEGER CHECK (max_clicks IS NULL OR max_clicks > 0),
    clicks      INTEGER NOT NULL DEFAULT 0,
    redirect    INTEGER NOT NULL DEFAULT 301 CHECK (redirect IN (301, 302)),
    disabled    INTEGER NOT NULL DEFAULT 0,
    -- The API key that created the link; 0 for none (not NULL: NULLs never collide in a
    -- unique index, and the same URL must map to one code per key).
    api_key_id  INTEGER NOT NULL DEFAULT 0,
    -- No alias, expiry, click limit or explicit redirect: deduplicated by long URL.
    plain       INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Book 8.3.3: the same long URL returns the existing code, also under concurrency.
CREATE UNIQUE INDEX IF NOT EXISTS shortener_links_plain_url
    ON shortener_links (long_url, api_key_id) WHERE plain = 1;

CREATE TABLE IF NOT EXISTS shortener_clicks_daily (
    code   TEXT    NOT NULL,
    day    TEXT    NOT NULL,
    clicks INTEGER NOT NULL,
    PRIMARY KEY (code, day)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS shortener_referrers (
    code   TEXT    NOT NULL,
    host   TEXT    NOT NULL,
    clicks INTEGER NOT NULL,
    PRIMARY KEY (code, host)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS shortener_agents (
    code   TEXT    NOT NULL,
    family TEXT    NOT NULL,
    clicks INTEGER NOT NULL,
    PRIMARY KEY (code, family)
) WITHOUT ROWID;

-- API keys: only the SHA-256 of the secret is stored.
CREATE TABLE IF NOT EXISTS shortener_api_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    prefix      TEXT    NOT NULL,
    secret_hash TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX IF NOT EXISTS shortener_api_keys_user ON shortener_api_keys (user_id);
