//! Where links, click counts and API keys live: the [`LinkStore`] trait and its backend
//! over the platform's [`Sql`] (SQLite by default, PostgreSQL), with migrations in
//! `migrations/{sqlite,postgres}`.
//!
//! The same long URL gets the same code (book 8.3.3) through a partial unique index on
//! `(long_url, api_key_id)` over *plain* links (no alias, expiry, click limit or explicit
//! redirect), so two concurrent shortens of one URL race on the index, not in our code:
//! the loser's `INSERT ... ON CONFLICT DO NOTHING` inserts nothing and it reads the
//! winner's row.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use blueprint_platform::sql::{Sql, SqlBackend};
use blueprint_platform::sql_dispatch;
use futures::future::BoxFuture;
use sqlx::migrate::Migrator;
use tokio::sync::{mpsc, oneshot};

use crate::code::ShortCode;
use crate::core::{LinkView, Redirect};

/// SQLite migrations.
pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
/// PostgreSQL migrations.
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");
/// The migrations table suffix (`_migrations_shortener`).
pub const MIGRATIONS_NAME: &str = "shortener";

/// Days of per-day counts a stats answer carries (newest first).
pub const STATS_DAYS_MAX: i64 = 366;
/// Referrer hosts a stats answer carries (most clicks first).
pub const STATS_REFERRERS_MAX: i64 = 50;
/// User-agent families a stats answer carries.
pub const STATS_AGENTS_MAX: i64 = 20;
/// Rows per `INSERT` statement of a bulk load (5 parameters each: well under SQLite's
/// 32766 and PostgreSQL's 65535 bound parameters).
pub const BULK_ROWS_PER_STATEMENT: usize = 1_000;
/// Rows per multi-row statement of a click batch (14 parameters each).
pub const CLICK_ROWS_PER_STATEMENT: usize = 1_000;

/// The statements of a click batch's write and of a link's click totals, whose column
/// lists follow [`crate::core::AGENT_FAMILIES`] (migration 0002 names each family's
/// count `agent_` and the family): built once, not per part of every batch.
struct ClickSql {
    /// `INSERT INTO shortener_clicks_daily ... (VALUES `, before the rows.
    daily_head: String,
    /// After the rows: only while the link exists, adding to the day's counts.
    daily_tail: String,
    /// After the rows of `shortener_referrers`.
    referrers_tail: String,
    /// A link's clicks without a referrer (both forms, see [`SqlStore::read_stats`]),
    /// then per family.
    totals: String,
}

/// Rows of a click batch go in only while their link exists (a probe of the links table
/// inside the statement).
const CLICKS_LIVE: &str =
    " WHERE EXISTS (SELECT 1 FROM shortener_links l WHERE l.code = v.column1)";
/// `INSERT INTO shortener_referrers ... (VALUES `, before the rows.
const REFERRERS_HEAD: &str =
    "INSERT INTO shortener_referrers (code, host, clicks) SELECT * FROM (VALUES ";

static CLICK_SQL: LazyLock<ClickSql> = LazyLock::new(|| {
    let columns: Vec<String> =
        crate::core::AGENT_FAMILIES.iter().map(|family| format!("agent_{family}")).collect();
    let mut daily_tail = format!(
        ") AS v{CLICKS_LIVE} ON CONFLICT (code, day) DO UPDATE SET \
         clicks = shortener_clicks_daily.clicks + excluded.clicks, \
         direct = shortener_clicks_daily.direct + excluded.direct"
    );
    let mut totals = String::from(
        "SELECT CAST(COALESCE(SUM(direct), 0) + COALESCE((SELECT clicks FROM shortener_referrers \
         WHERE code = $1 AND host = 'direct'), 0) AS BIGINT)",
    );
    for column in &columns {
        daily_tail
            .push_str(&format!(", {column} = shortener_clicks_daily.{column} + excluded.{column}"));
        totals.push_str(&format!(", CAST(COALESCE(SUM({column}), 0) AS BIGINT)"));
    }
    totals.push_str(" FROM shortener_clicks_daily WHERE code = $1");
    ClickSql {
        daily_head: format!(
            "INSERT INTO shortener_clicks_daily (code, day, clicks, direct, {}) SELECT * FROM (VALUES ",
            columns.join(", ")
        ),
        daily_tail,
        referrers_tail: format!(
            ") AS v{CLICKS_LIVE} ON CONFLICT (code, host) DO UPDATE SET \
             clicks = shortener_referrers.clicks + excluded.clicks"
        ),
        totals,
    }
});
/// Codes per page when reading every code (to fill the Bloom filter at start).
pub const CODES_PAGE_LEN: i64 = 100_000;
/// Most API keys one user may hold (listing them is one unpaged answer).
pub const MAX_KEYS_PER_USER: i64 = 100;

/// A database failure.
#[derive(Debug, thiserror::Error)]
#[error("shortener store: {source}")]
pub struct StoreError {
    /// The driver's error.
    #[from]
    pub source: sqlx::Error,
}

/// A stored link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Its code.
    pub code: ShortCode,
    /// Where it goes (normalised when written).
    pub long_url: String,
    /// Unix ms.
    pub created_at_ms: i64,
    /// Unix ms after which it answers 410.
    pub expires_at_ms: Option<i64>,
    /// Redirects allowed before it answers 410.
    pub max_clicks: Option<i64>,
    /// Clicks counted (exact once the analytics queue drained): for a click-limited link
    /// the claimed clicks (`clicks` column, counted on the request path); for any other
    /// the sum of its per-day counts, so a batch writes three rows per link, not four.
    pub clicks: i64,
    /// 301 or 302.
    pub redirect: Redirect,
    /// Disabled by its owner.
    pub disabled: bool,
    /// The API key that created it; 0 for none.
    pub api_key_id: i64,
}

impl Link {
    /// What the redirect path caches.
    pub fn view(&self) -> LinkView {
        LinkView {
            long_url: self.long_url.clone(),
            redirect: self.redirect,
            expires_at_ms: self.expires_at_ms,
            limited: self.max_clicks.is_some(),
            disabled: self.disabled,
        }
    }
}

/// A link to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLink {
    /// The stored fields (`clicks` 0, `disabled` false).
    pub link: Link,
    /// No alias, expiry, click limit or explicit redirect: deduplicated by long URL.
    pub plain: bool,
}

/// What an insert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// The new row.
    New(Link),
    /// A plain link to the same URL (and key) existed: this one.
    Existing(Link),
    /// The code is in use by another link.
    CodeTaken,
}

/// A batch of aggregated clicks, written in one transaction: per link, its counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClickBatch {
    /// Per code.
    pub links: HashMap<Box<str>, LinkClicks>,
    /// The rows this batch writes (each link's days and referrer hosts).
    pub rows: usize,
}

/// One row of `shortener_clicks_daily`: a link's clicks on a day, with those of them
/// without a referrer and per user-agent family.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DayRow<'a> {
    /// The link.
    pub code: &'a str,
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Its clicks.
    pub clicks: i64,
    /// Of those, without a `Referer`.
    pub direct: i64,
    /// Per user-agent family, indexed as [`crate::core::AGENT_FAMILIES`].
    pub agents: [i64; crate::core::AGENT_FAMILIES.len()],
}

/// One link's clicks in a [`ClickBatch`]: the rows it adds to per-day and referrer counts
/// (the per-day row carries those without a referrer and the per-family counts).
/// Compact (one map entry per link, no string per click): under long-tailed traffic most
/// links in a batch were clicked once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkClicks {
    /// `(days since 1970-01-01, clicks)`: one or two entries (a batch spans seconds).
    pub days: Vec<(i64, i64)>,
    /// Clicks without a `Referer` (host `direct`).
    pub direct: i64,
    /// Per other referrer host.
    pub referrers: HashMap<Box<str>, i64>,
    /// Per user-agent family, indexed as [`crate::core::AGENT_FAMILIES`].
    pub agents: [u32; crate::core::AGENT_FAMILIES.len()],
}

impl LinkClicks {
    /// The rows this link's clicks write: its days and referrer hosts.
    pub fn rows(&self) -> usize {
        self.days.len() + self.referrers.len()
    }

    /// Its clicks.
    pub fn clicks(&self) -> i64 {
        self.days.iter().map(|&(_, clicks)| clicks).sum()
    }
}

impl ClickBatch {
    /// No clicks.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// Its clicks.
    pub fn clicks(&self) -> i64 {
        self.links.values().map(LinkClicks::clicks).sum()
    }

    /// This batch as consecutive parts in code order, each of at most `max_rows` rows
    /// (a link's rows stay in one part; a link with more rows than that is a part of its
    /// own): written one after the other, each part walks its B-tree pages in order and
    /// is a short write.
    pub fn into_parts(self, max_rows: usize) -> Vec<ClickBatch> {
        let mut links: Vec<(Box<str>, LinkClicks)> = self.links.into_iter().collect();
        links.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        let mut parts = Vec::new();
        let mut part = ClickBatch::default();
        for (code, link) in links {
            let rows = link.rows();
            if part.rows > 0 && part.rows + rows > max_rows {
                parts.push(std::mem::take(&mut part));
            }
            part.rows += rows;
            part.links.insert(code, link);
        }
        if !part.is_empty() {
            parts.push(part);
        }
        parts
    }

    /// Count one click of `code` on `day` (days since 1970) from referrer `host` (`None`:
    /// direct) with user-agent family number `agent`.
    pub fn add(&mut self, code: &str, day: i64, host: Option<&str>, agent: usize) {
        let link = match self.links.get_mut(code) {
            Some(link) => link,
            None => self.links.entry(code.into()).or_default(),
        };
        match link.days.iter_mut().find(|(known, _)| *known == day) {
            Some((_, clicks)) => *clicks += 1,
            None => {
                link.days.push((day, 1));
                self.rows += 1;
            }
        }
        match host {
            None => link.direct += 1,
            Some(host) => match link.referrers.get_mut(host) {
                Some(clicks) => *clicks += 1,
                None => {
                    link.referrers.insert(host.into(), 1);
                    self.rows += 1;
                }
            },
        }
        link.agents[agent.min(crate::core::AGENT_FAMILIES.len() - 1)] += 1;
    }

    /// The per-day rows, in code order. A link's clicks without a referrer and its
    /// per-family counts go to its first day's row: a batch spans seconds, rarely two
    /// days, and stats report those counts over all days.
    pub fn daily_rows(&self) -> Vec<DayRow<'_>> {
        let mut rows = Vec::with_capacity(self.links.len());
        for (code, link) in &self.links {
            for (n, &(day, clicks)) in link.days.iter().enumerate() {
                let first = n == 0;
                rows.push(DayRow {
                    code,
                    day: crate::core::day_name(day),
                    clicks,
                    direct: if first { link.direct } else { 0 },
                    agents: if first { link.agents.map(i64::from) } else { Default::default() },
                });
            }
        }
        rows.sort_unstable();
        rows
    }

    /// `(code, referrer host, clicks)` rows of the clicks with a referrer, in order.
    pub fn referrer_rows(&self) -> Vec<(&str, &str, i64)> {
        let mut rows = Vec::new();
        for (code, link) in &self.links {
            rows.extend(link.referrers.iter().map(|(host, &clicks)| (&**code, &**host, clicks)));
        }
        rows.sort_unstable();
        rows
    }
}

/// Per-link click statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// The link.
    pub link: Link,
    /// `(day, clicks)`, newest first.
    pub daily: Vec<(String, i64)>,
    /// `(host, clicks)`, most first.
    pub referrers: Vec<(String, i64)>,
    /// `(family, clicks)`, most first.
    pub agents: Vec<(String, i64)>,
}

/// A stored API key (its secret is only ever seen hashed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Its id (≥ 1).
    pub id: i64,
    /// The platform user who owns it.
    pub user_id: i64,
    /// A label.
    pub name: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    /// Unix ms.
    pub created_at_ms: i64,
    /// Unix ms, once revoked.
    pub revoked_at_ms: Option<i64>,
}

/// The shortener's storage.
pub trait LinkStore: Send + Sync + 'static {
    /// Insert `new` unless its code is taken or (for a plain link) its URL is stored.
    fn insert<'a>(&'a self, new: &'a NewLink) -> BoxFuture<'a, Result<Inserted, StoreError>>;
    /// The plain link to `long_url` created with `api_key_id`.
    fn find_plain<'a>(
        &'a self,
        long_url: &'a str,
        api_key_id: i64,
    ) -> BoxFuture<'a, Result<Option<Link>, StoreError>>;
    /// The link `code`.
    fn get<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<Option<Link>, StoreError>>;
    /// Claim one click of a limited link: true when one was left (and is now used).
    fn claim_click<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Delete a link and its statistics; true when it existed.
    fn delete<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Disable or re-enable; true when it exists.
    fn set_disabled<'a>(
        &'a self,
        code: &'a str,
        disabled: bool,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;
    /// Add a batch of clicks (clicks of links deleted meanwhile are dropped).
    fn record_clicks<'a>(&'a self, batch: &'a ClickBatch) -> BoxFuture<'a, Result<(), StoreError>>;
    /// A link with its statistics.
    fn stats<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<Option<Stats>, StoreError>>;
    /// Up to [`CODES_PAGE_LEN`] codes after `after`, in order.
    fn codes_after<'a>(&'a self, after: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;
    /// Insert many links at once (a bulk load), skipping taken codes and stored plain URLs;
    /// how many were inserted.
    fn insert_bulk<'a>(&'a self, links: &'a [NewLink]) -> BoxFuture<'a, Result<u64, StoreError>>;
    /// Store a new API key; its id.
    fn create_key<'a>(
        &'a self,
        user_id: i64,
        name: &'a str,
        prefix: &'a str,
        secret_hash: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<i64, StoreError>>;
    /// The keys of `user_id`, newest first (at most [`MAX_KEYS_PER_USER`]).
    fn list_keys(&self, user_id: i64) -> BoxFuture<'_, Result<Vec<ApiKeyRecord>, StoreError>>;
    /// Count the keys of `user_id` that are not revoked.
    fn count_live_keys(&self, user_id: i64) -> BoxFuture<'_, Result<i64, StoreError>>;
    /// Revoke key `id` of `user_id`; true when it was live.
    fn revoke_key(
        &self,
        user_id: i64,
        id: i64,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// The key whose secret hashes to `secret_hash`.
    fn key_by_hash<'a>(
        &'a self,
        secret_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>>;
    /// The key `id`.
    fn key_by_id(&self, id: i64) -> BoxFuture<'_, Result<Option<ApiKeyRecord>, StoreError>>;
}

/// [`LinkStore`] over the platform's database.
#[derive(Debug, Clone)]
pub struct SqlStore {
    sql: Sql,
    inserts: mpsc::Sender<InsertJob>,
    /// Groups the insert task committed (or tried), not counting one-by-one retries.
    insert_transactions: Arc<AtomicU64>,
}

/// Most link inserts committed in one transaction.
pub const MAX_INSERT_GROUP: usize = 256;

/// One link insert waiting for its group's commit: whether it inserted a row.
struct InsertJob {
    link: NewLink,
    done: oneshot::Sender<Result<bool, StoreError>>,
}

/// Commits link inserts in groups: every insert queued while a group commits goes into
/// the next group, one transaction for all of them.
///
/// SQLite admits one writer at a time: concurrent inserts on their own connections got
/// `SQLITE_BUSY` and slept in its busy handler (1, 2, 5 ms ...), and each paid its own
/// commit; PostgreSQL pays one WAL flush per commit. One task, one transaction per group,
/// removes both. A group that fails (a value the database refuses) is retried one insert
/// at a time, so an insert fails only for its own reason.
async fn commit_inserts(
    sql: Sql,
    mut jobs: mpsc::Receiver<InsertJob>,
    transactions: Arc<AtomicU64>,
) {
    let mut group = Vec::with_capacity(MAX_INSERT_GROUP);
    while jobs.recv_many(&mut group, MAX_INSERT_GROUP).await > 0 {
        // Let the requests that are ready run first (a yield lasts until the runtime has
        // polled its sockets once): each may add its insert to this group. Without it,
        // half the groups held a single insert at 16 concurrent shortens, each paying a
        // whole transaction, since the task took the first insert as soon as it came.
        if group.len() < MAX_INSERT_GROUP {
            tokio::task::yield_now().await;
            while group.len() < MAX_INSERT_GROUP {
                match jobs.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
        }
        transactions.fetch_add(1, Ordering::Relaxed);
        metrics::histogram!("shortener_insert_group_size").record(group.len() as f64);
        let links: Vec<&NewLink> = group.iter().map(|job| &job.link).collect();
        let outcome = insert_group(&sql, &links).await;
        match outcome {
            Ok(inserted) => {
                for (job, inserted) in group.drain(..).zip(inserted) {
                    let _ = job.done.send(Ok(inserted));
                }
            }
            Err(error) if group.len() == 1 => {
                if let Some(job) = group.pop() {
                    let _ = job.done.send(Err(error));
                }
            }
            Err(_) => {
                for job in group.drain(..) {
                    let one = insert_group(&sql, &[&job.link])
                        .await
                        .map(|inserted| inserted.into_iter().next().unwrap_or(false));
                    let _ = job.done.send(one);
                }
            }
        }
    }
}

/// Insert `links` in one transaction; for each, whether it inserted a row (a taken code
/// or plain URL inserts none).
///
/// Several links with distinct codes go in one multi-row statement that returns the
/// codes it inserted: with SQLite, every statement is a round trip to the connection's
/// thread (sqlx), and one statement per link plus BEGIN and COMMIT made those hand-offs
/// over a third of a shorten's time (perf, `bench/shortener.sh`). A group with a code
/// twice (two requests for one alias) goes a row at a time, so which row won is known.
async fn insert_group(sql: &Sql, links: &[&NewLink]) -> Result<Vec<bool>, StoreError> {
    if links.len() > 1 && links.len() <= MAX_INSERT_GROUP && distinct_codes(links) {
        return insert_in_one_statement(sql, links).await;
    }
    let inserted = sql_dispatch!(sql, pool => {
        let mut tx = pool.begin().await?;
        let mut inserted = Vec::with_capacity(links.len());
        for new in links {
            let link = &new.link;
            let rows = sqlx::query(INSERT_LINK)
                .bind(link.code.as_str())
                .bind(&link.long_url)
                .bind(link.created_at_ms)
                .bind(link.expires_at_ms)
                .bind(link.max_clicks)
                .bind(i64::from(link.redirect.status()))
                .bind(link.api_key_id)
                .bind(new.plain)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            inserted.push(rows == 1);
        }
        tx.commit().await?;
        Ok::<_, sqlx::Error>(inserted)
    })?;
    Ok(inserted)
}

fn distinct_codes(links: &[&NewLink]) -> bool {
    let mut codes: Vec<&str> = links.iter().map(|new| new.link.code.as_str()).collect();
    codes.sort_unstable();
    codes.windows(2).all(|pair| pair[0] != pair[1])
}

/// [`insert_group`] as one `INSERT ... VALUES (...), (...) ON CONFLICT DO NOTHING
/// RETURNING code` (8 parameters a row: 2,048 at most, under both engines' limits).
async fn insert_in_one_statement(sql: &Sql, links: &[&NewLink]) -> Result<Vec<bool>, StoreError> {
    let returned: Vec<String> = sql_dispatch!(sql, pool => {
        let mut builder = sqlx::QueryBuilder::new(
            "INSERT INTO shortener_links (code, long_url, created_at, expires_at, max_clicks, redirect, api_key_id, plain) ",
        );
        builder.push_values(links, |mut row, new| {
            let link = &new.link;
            row.push_bind(link.code.as_str())
                .push_bind(link.long_url.as_str())
                .push_bind(link.created_at_ms)
                .push_bind(link.expires_at_ms)
                .push_bind(link.max_clicks)
                .push_bind(i64::from(link.redirect.status()))
                .push_bind(link.api_key_id)
                .push_bind(new.plain);
        });
        builder.push(" ON CONFLICT DO NOTHING RETURNING code");
        builder.build_query_scalar::<String>().fetch_all(pool).await
    })?;
    let inserted: std::collections::HashSet<&str> = returned.iter().map(String::as_str).collect();
    Ok(links.iter().map(|new| inserted.contains(new.link.code.as_str())).collect())
}

#[derive(sqlx::FromRow)]
struct LinkRow {
    code: String,
    long_url: String,
    created_at: i64,
    expires_at: Option<i64>,
    max_clicks: Option<i64>,
    clicks: i64,
    redirect: i64,
    disabled: bool,
    api_key_id: i64,
}

impl LinkRow {
    fn into_link(self) -> Link {
        Link {
            code: ShortCode::from_stored(self.code),
            long_url: self.long_url,
            created_at_ms: self.created_at,
            expires_at_ms: self.expires_at,
            max_clicks: self.max_clicks,
            clicks: self.clicks,
            redirect: if self.redirect == 302 { Redirect::Temporary } else { Redirect::Permanent },
            disabled: self.disabled,
            api_key_id: self.api_key_id,
        }
    }
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: i64,
    user_id: i64,
    name: String,
    prefix: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<KeyRow> for ApiKeyRecord {
    fn from(row: KeyRow) -> Self {
        ApiKeyRecord {
            id: row.id,
            user_id: row.user_id,
            name: row.name,
            prefix: row.prefix,
            created_at_ms: row.created_at,
            revoked_at_ms: row.revoked_at,
        }
    }
}

const SELECT_BY_CODE: &str = "SELECT code, long_url, created_at, expires_at, max_clicks, CASE WHEN max_clicks IS NULL THEN (SELECT CAST(COALESCE(SUM(d.clicks), 0) AS BIGINT) FROM shortener_clicks_daily d WHERE d.code = shortener_links.code) ELSE clicks END AS clicks, redirect, disabled, api_key_id FROM shortener_links WHERE code = $1";
// The literal `plain` test lets each engine's planner use the partial index.
const FIND_PLAIN_SQLITE: &str = "SELECT code, long_url, created_at, expires_at, max_clicks, CASE WHEN max_clicks IS NULL THEN (SELECT CAST(COALESCE(SUM(d.clicks), 0) AS BIGINT) FROM shortener_clicks_daily d WHERE d.code = shortener_links.code) ELSE clicks END AS clicks, redirect, disabled, api_key_id FROM shortener_links WHERE long_url = $1 AND api_key_id = $2 AND plain = 1";
const FIND_PLAIN_POSTGRES: &str = "SELECT code, long_url, created_at, expires_at, max_clicks, CASE WHEN max_clicks IS NULL THEN (SELECT CAST(COALESCE(SUM(d.clicks), 0) AS BIGINT) FROM shortener_clicks_daily d WHERE d.code = shortener_links.code) ELSE clicks END AS clicks, redirect, disabled, api_key_id FROM shortener_links WHERE long_url = $1 AND api_key_id = $2 AND plain = TRUE";
const INSERT_LINK: &str = "INSERT INTO shortener_links (code, long_url, created_at, expires_at, max_clicks, redirect, api_key_id, plain) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
const KEY_COLUMNS: &str = "id, user_id, name, prefix, created_at, revoked_at";

impl SqlStore {
    /// Apply the migrations and wrap `sql`.
    pub async fn open(sql: Sql) -> Result<Self, blueprint_platform::sql::SqlError> {
        sql.migrate(MIGRATIONS_NAME, &SQLITE_MIGRATOR, &POSTGRES_MIGRATOR).await?;
        let (inserts, jobs) = mpsc::channel(MAX_INSERT_GROUP * 4);
        let insert_transactions = Arc::new(AtomicU64::new(0));
        tokio::spawn(commit_inserts(sql.clone(), jobs, Arc::clone(&insert_transactions)));
        Ok(Self { sql, inserts, insert_transactions })
    }

    /// How many groups of link inserts have been committed (or tried).
    pub fn insert_transactions(&self) -> u64 {
        self.insert_transactions.load(Ordering::Relaxed)
    }

    /// How many links are stored.
    pub async fn count_links(&self) -> Result<u64, StoreError> {
        let count: i64 = sql_dispatch!(&self.sql, pool => {
            sqlx::query_scalar("SELECT count(*) FROM shortener_links").fetch_one(pool).await
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    fn find_plain_text(&self) -> &'static str {
        match self.sql.backend() {
            SqlBackend::Sqlite => FIND_PLAIN_SQLITE,
            SqlBackend::Postgres => FIND_PLAIN_POSTGRES,
        }
    }

    async fn get_link(&self, code: &str) -> Result<Option<Link>, StoreError> {
        let row: Option<LinkRow> = sql_dispatch!(&self.sql, pool => {
            sqlx::query_as(SELECT_BY_CODE).bind(code).fetch_optional(pool).await
        })?;
        Ok(row.map(LinkRow::into_link))
    }

    async fn plain(&self, long_url: &str, api_key_id: i64) -> Result<Option<Link>, StoreError> {
        let text = self.find_plain_text();
        let row: Option<LinkRow> = sql_dispatch!(&self.sql, pool => {
            sqlx::query_as(text).bind(long_url).bind(api_key_id).fetch_optional(pool).await
        })?;
        Ok(row.map(LinkRow::into_link))
    }

    async fn insert_link(&self, new: &NewLink) -> Result<Inserted, StoreError> {
        let link = &new.link;
        let (done, answer) = oneshot::channel();
        let job = InsertJob { link: new.clone(), done };
        // The committing task ends only with the store; a closed channel is a closed pool.
        self.inserts.send(job).await.map_err(|_| sqlx::Error::PoolClosed)?;
        let inserted = answer.await.map_err(|_| sqlx::Error::PoolClosed)??;
        if inserted {
            return Ok(Inserted::New(link.clone()));
        }
        if new.plain
            && let Some(existing) = self.plain(&link.long_url, link.api_key_id).await?
        {
            return Ok(Inserted::Existing(existing));
        }
        Ok(Inserted::CodeTaken)
    }

    async fn write_clicks(&self, batch: &ClickBatch) -> Result<(), StoreError> {
        // Multi-row statements: one round trip per CLICK_ROWS_PER_STATEMENT rows, not per
        // row (per-row statements cost more than the redirects they count). A link clicked
        // in the batch writes one row (its day, with the clicks without a referrer and the
        // per-family counts), plus one per referrer host. Clicks of links deleted
        // meanwhile are dropped: each row is inserted only while its link exists
        // (CLICKS_LIVE). Rows in key order: the batch is a
        // hash map, and rows in its order send every upsert to a random page of a B-tree
        // far larger than the page cache; sorted, consecutive rows share their pages.
        let daily = batch.daily_rows();
        let referrers = batch.referrer_rows();
        // SQLite: take the write lock at BEGIN, where a busy lock waits in SQLite's busy
        // handler. A deferred transaction would start with the probe's read, and SQLite
        // refuses to upgrade an open read to a write while another connection writes
        // (SQLITE_BUSY at once, no wait), so a batch failed whenever any write was on.
        let begin = match &self.sql {
            Sql::Sqlite(_) => "BEGIN IMMEDIATE",
            Sql::Postgres(_) => "BEGIN",
        };
        sql_dispatch!(&self.sql, pool => {
            let mut tx = pool.begin_with(begin).await?;
            for chunk in daily.chunks(CLICK_ROWS_PER_STATEMENT) {
                let mut builder = sqlx::QueryBuilder::new(CLICK_SQL.daily_head.as_str());
                let mut values = builder.separated(", ");
                for row in chunk {
                    values.push("(").push_bind_unseparated(row.code);
                    values.push_unseparated(", ").push_bind_unseparated(row.day.as_str());
                    values.push_unseparated(", ").push_bind_unseparated(row.clicks);
                    values.push_unseparated(", ").push_bind_unseparated(row.direct);
                    for &count in &row.agents {
                        values.push_unseparated(", ").push_bind_unseparated(count);
                    }
                    values.push_unseparated(")");
                }
                builder.push(CLICK_SQL.daily_tail.as_str());
                builder.build().execute(&mut *tx).await?;
            }
            for chunk in referrers.chunks(CLICK_ROWS_PER_STATEMENT) {
                let mut builder = sqlx::QueryBuilder::new(REFERRERS_HEAD);
                let mut values = builder.separated(", ");
                for &(code, host, clicks) in chunk {
                    values.push("(").push_bind_unseparated(code);
                    values.push_unseparated(", ").push_bind_unseparated(host);
                    values.push_unseparated(", ").push_bind_unseparated(clicks).push_unseparated(")");
                }
                builder.push(CLICK_SQL.referrers_tail.as_str());
                builder.build().execute(&mut *tx).await?;
            }
            tx.commit().await
        })?;
        Ok(())
    }

    async fn read_stats(&self, code: &str) -> Result<Option<Stats>, StoreError> {
        const DAILY: &str = "SELECT day, clicks FROM shortener_clicks_daily WHERE code = $1 ORDER BY day DESC LIMIT $2";
        const REFERRERS: &str = "SELECT host, clicks FROM shortener_referrers WHERE code = $1 AND host <> 'direct' ORDER BY clicks DESC, host LIMIT $2";
        // Rows written before migration 0002 hold clicks without a referrer as host
        // `direct` and the per-family counts in shortener_agents; later ones in the day's row.
        const AGENTS: &str = "SELECT family, clicks FROM shortener_agents WHERE code = $1";
        let Some(link) = self.get_link(code).await? else { return Ok(None) };
        let (daily, mut referrers, totals, old_agents) = sql_dispatch!(&self.sql, pool => {
            let daily: Vec<(String, i64)> =
                sqlx::query_as(DAILY).bind(code).bind(STATS_DAYS_MAX).fetch_all(pool).await?;
            let referrers: Vec<(String, i64)> = sqlx::query_as(REFERRERS)
                .bind(code)
                .bind(STATS_REFERRERS_MAX)
                .fetch_all(pool)
                .await?;
            let row = sqlx::query(sqlx::AssertSqlSafe(CLICK_SQL.totals.as_str())).bind(code).fetch_one(pool).await?;
            let totals = (0..=crate::core::AGENT_FAMILIES.len())
                .map(|column| sqlx::Row::try_get::<i64, _>(&row, column))
                .collect::<Result<Vec<i64>, _>>()?;
            let agents: Vec<(String, i64)> = sqlx::query_as(AGENTS).bind(code).fetch_all(pool).await?;
            Ok::<_, sqlx::Error>((daily, referrers, totals, agents))
        })?;
        let most_first =
            |a: &(String, i64), b: &(String, i64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0));
        if totals[0] > 0 {
            referrers.push(("direct".to_owned(), totals[0]));
        }
        referrers.sort_by(most_first);
        referrers.truncate(STATS_REFERRERS_MAX as usize);
        let mut agents: Vec<(String, i64)> = crate::core::AGENT_FAMILIES
            .iter()
            .zip(&totals[1..])
            .map(|(family, &clicks)| {
                let old: i64 =
                    old_agents.iter().filter(|(name, _)| name == family).map(|(_, n)| n).sum();
                ((*family).to_owned(), clicks + old)
            })
            .filter(|&(_, clicks)| clicks > 0)
            .collect();
        // A family stored before that is no longer one of AGENT_FAMILIES still counts.
        agents.extend(
            old_agents
                .into_iter()
                .filter(|(name, _)| !crate::core::AGENT_FAMILIES.contains(&name.as_str())),
        );
        agents.sort_by(most_first);
        agents.truncate(STATS_AGENTS_MAX as usize);
        Ok(Some(Stats { link, daily, referrers, agents }))
    }

    async fn delete_link(&self, code: &str) -> Result<bool, StoreError> {
        let deleted = sql_dispatch!(&self.sql, pool => {
            let mut tx = pool.begin().await?;
            for table in ["shortener_clicks_daily", "shortener_referrers", "shortener_agents"] {
                let text = format!("DELETE FROM {table} WHERE code = $1");
                sqlx::query(sqlx::AssertSqlSafe(text)).bind(code).execute(&mut *tx).await?;
            }
            let done = sqlx::query("DELETE FROM shortener_links WHERE code = $1")
                .bind(code)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(done.rows_affected() == 1)
        })?;
        Ok(deleted)
    }

    async fn bulk(&self, links: &[NewLink]) -> Result<u64, StoreError> {
        let mut inserted = 0;
        sql_dispatch!(&self.sql, pool => {
            let mut tx = pool.begin().await?;
            for chunk in links.chunks(BULK_ROWS_PER_STATEMENT) {
                let mut builder = sqlx::QueryBuilder::new(
                    "INSERT INTO shortener_links (code, long_url, created_at, redirect, plain) ",
                );
                builder.push_values(chunk, |mut row, new| {
                    row.push_bind(new.link.code.as_str())
                        .push_bind(new.link.long_url.as_str())
                        .push_bind(new.link.created_at_ms)
                        .push_bind(i64::from(new.link.redirect.status()))
                        .push_bind(new.plain);
                });
                builder.push(" ON CONFLICT DO NOTHING");
                inserted += builder.build().execute(&mut *tx).await?.rows_affected();
            }
            tx.commit().await
        })?;
        Ok(inserted)
    }
}

impl LinkStore for SqlStore {
    fn insert<'a>(&'a self, new: &'a NewLink) -> BoxFuture<'a, Result<Inserted, StoreError>> {
        Box::pin(self.insert_link(new))
    }

    fn find_plain<'a>(
        &'a self,
        long_url: &'a str,
        api_key_id: i64,
    ) -> BoxFuture<'a, Result<Option<Link>, StoreError>> {
        Box::pin(self.plain(long_url, api_key_id))
    }

    fn get<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<Option<Link>, StoreError>> {
        Box::pin(self.get_link(code))
    }

    fn claim_click<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        const CLAIM: &str = "UPDATE shortener_links SET clicks = clicks + 1 WHERE code = $1 AND (max_clicks IS NULL OR clicks < max_clicks)";
        Box::pin(async move {
            let claimed = sql_dispatch!(&self.sql, pool => {
                sqlx::query(CLAIM).bind(code).execute(pool).await.map(|done| done.rows_affected())
            })?;
            Ok(claimed == 1)
        })
    }

    fn delete<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.delete_link(code))
    }

    fn set_disabled<'a>(
        &'a self,
        code: &'a str,
        disabled: bool,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        const SET: &str = "UPDATE shortener_links SET disabled = $1 WHERE code = $2";
        Box::pin(async move {
            let updated = sql_dispatch!(&self.sql, pool => {
                sqlx::query(SET).bind(disabled).bind(code).execute(pool).await.map(|d| d.rows_affected())
            })?;
            Ok(updated == 1)
        })
    }

    fn record_clicks<'a>(&'a self, batch: &'a ClickBatch) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.write_clicks(batch))
    }

    fn stats<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<Option<Stats>, StoreError>> {
        Box::pin(self.read_stats(code))
    }

    fn codes_after<'a>(&'a self, after: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        const PAGE: &str =
            "SELECT code FROM shortener_links WHERE code > $1 ORDER BY code LIMIT $2";
        Box::pin(async move {
            let codes = sql_dispatch!(&self.sql, pool => {
                sqlx::query_scalar(PAGE).bind(after).bind(CODES_PAGE_LEN).fetch_all(pool).await
            })?;
            Ok(codes)
        })
    }

    fn insert_bulk<'a>(&'a self, links: &'a [NewLink]) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(self.bulk(links))
    }

    fn create_key<'a>(
        &'a self,
        user_id: i64,
        name: &'a str,
        prefix: &'a str,
        secret_hash: &'a str,
        now_ms: i64,
    ) -> BoxFuture<'a, Result<i64, StoreError>> {
        const CREATE: &str = "INSERT INTO shortener_api_keys (user_id, name, prefix, secret_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id";
        Box::pin(async move {
            let id = sql_dispatch!(&self.sql, pool => {
                sqlx::query_scalar(CREATE)
                    .bind(user_id)
                    .bind(name)
                    .bind(prefix)
                    .bind(secret_hash)
                    .bind(now_ms)
                    .fetch_one(pool)
                    .await
            })?;
            Ok(id)
        })
    }

    fn list_keys(&self, user_id: i64) -> BoxFuture<'_, Result<Vec<ApiKeyRecord>, StoreError>> {
        Box::pin(async move {
            let text = format!(
                "SELECT {KEY_COLUMNS} FROM shortener_api_keys WHERE user_id = $1 ORDER BY id DESC LIMIT $2"
            );
            let rows: Vec<KeyRow> = sql_dispatch!(&self.sql, pool => {
                sqlx::query_as(sqlx::AssertSqlSafe(text.clone()))
                    .bind(user_id)
                    .bind(MAX_KEYS_PER_USER)
                    .fetch_all(pool)
                    .await
            })?;
            Ok(rows.into_iter().map(ApiKeyRecord::from).collect())
        })
    }

    fn count_live_keys(&self, user_id: i64) -> BoxFuture<'_, Result<i64, StoreError>> {
        const COUNT: &str =
            "SELECT count(*) FROM shortener_api_keys WHERE user_id = $1 AND revoked_at IS NULL";
        Box::pin(async move {
            let count = sql_dispatch!(&self.sql, pool => {
                sqlx::query_scalar(COUNT).bind(user_id).fetch_one(pool).await
            })?;
            Ok(count)
        })
    }

    fn revoke_key(
        &self,
        user_id: i64,
        id: i64,
        now_ms: i64,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        const REVOKE: &str = "UPDATE shortener_api_keys SET revoked_at = $1 WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL";
        Box::pin(async move {
            let revoked = sql_dispatch!(&self.sql, pool => {
                sqlx::query(REVOKE)
                    .bind(now_ms)
                    .bind(id)
                    .bind(user_id)
                    .execute(pool)
                    .await
                    .map(|done| done.rows_affected())
            })?;
            Ok(revoked == 1)
        })
    }

    fn key_by_hash<'a>(
        &'a self,
        secret_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>> {
        Box::pin(async move {
            let text =
                format!("SELECT {KEY_COLUMNS} FROM shortener_api_keys WHERE secret_hash = $1");
            let row: Option<KeyRow> = sql_dispatch!(&self.sql, pool => {
                sqlx::query_as(sqlx::AssertSqlSafe(text.clone())).bind(secret_hash).fetch_optional(pool).await
            })?;
            Ok(row.map(ApiKeyRecord::from))
        })
    }

    fn key_by_id(&self, id: i64) -> BoxFuture<'_, Result<Option<ApiKeyRecord>, StoreError>> {
        Box::pin(async move {
            let text = format!("SELECT {KEY_COLUMNS} FROM shortener_api_keys WHERE id = $1");
            let row: Option<KeyRow> = sql_dispatch!(&self.sql, pool => {
                sqlx::query_as(sqlx::AssertSqlSafe(text.clone())).bind(id).fetch_optional(pool).await
            })?;
            Ok(row.map(ApiKeyRecord::from))
        })
    }
}
