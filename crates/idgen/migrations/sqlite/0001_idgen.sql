-- Leaf segment mode: one row per biz tag; max_id is the first ID not yet allocated.
CREATE TABLE IF NOT EXISTS idgen_leaf_alloc (
    biz_tag       TEXT    NOT NULL PRIMARY KEY,
    max_id        INTEGER NOT NULL,
    step          INTEGER NOT NULL CHECK (step > 0),
    description   TEXT    NOT NULL DEFAULT '',
    updated_at_ms INTEGER NOT NULL
);

-- Worker-ID leases: a row per (namespace, worker_id) ever handed out.
CREATE TABLE IF NOT EXISTS idgen_worker_leases (
    namespace     TEXT    NOT NULL,
    worker_id     INTEGER NOT NULL CHECK (worker_id >= 0),
    owner         TEXT    NOT NULL,
    token         INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    PRIMARY KEY (namespace, worker_id)
);

-- Ticket servers: one counter per (stub, server offset).
CREATE TABLE IF NOT EXISTS idgen_tickets (
    stub         TEXT    NOT NULL,
    shard_offset INTEGER NOT NULL,
    value        INTEGER NOT NULL,
    PRIMARY KEY (stub, shard_offset)
);
