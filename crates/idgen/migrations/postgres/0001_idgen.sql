-- Leaf segment mode: one row per biz tag; max_id is the first ID not yet allocated.
CREATE TABLE IF NOT EXISTS idgen_leaf_alloc (
    biz_tag       TEXT    NOT NULL PRIMARY KEY,
    max_id        BIGINT  NOT NULL,
    step          BIGINT  NOT NULL CHECK (step > 0),
    description   TEXT    NOT NULL DEFAULT '',
    updated_at_ms BIGINT  NOT NULL
);

-- Worker-ID leases: a row per (namespace, worker_id) ever handed out.
CREATE TABLE IF NOT EXISTS idgen_worker_leases (
    namespace     TEXT    NOT NULL,
    worker_id     BIGINT  NOT NULL CHECK (worker_id >= 0),
    owner         TEXT    NOT NULL,
    token         BIGINT  NOT NULL,
    expires_at_ms BIGINT  NOT NULL,
    PRIMARY KEY (namespace, worker_id)
);

-- Ticket servers: one counter per (stub, server offset).
CREATE TABLE IF NOT EXISTS idgen_tickets (
    stub         TEXT    NOT NULL,
    shard_offset BIGINT  NOT NULL,
    value        BIGINT  NOT NULL,
    PRIMARY KEY (stub, shard_offset)
);
