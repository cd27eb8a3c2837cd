//! The click batch ([`Analytics`]): clicks are aggregated in memory and written by a thread
//! of their own. A full batch while the previous one is still being written makes
//! redirects wait (they are not dropped), a flush waits for every click recorded before
//! it, and the last handle's drop still writes what the batch holds.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use blueprint_platform::cache::{Cache, MemoryCache};
use blueprint_platform::clock::{Clock, ManualClock};
use blueprint_platform::config::SqlConfig;
use blueprint_platform::sql::Sql;
use blueprint_shortener::analytics::{Analytics, Click};
use blueprint_shortener::config::ShortenerConfig;
use blueprint_shortener::core::{HashCodes, default_hash};
use blueprint_shortener::service::{Caller, CodeSource, Service, ShortenRequest};
use blueprint_shortener::store::{LinkStore, SqlStore};

const NOW_MS: i64 = 1_800_000_000_000;
/// One link clicked directly: the row of its day (which carries `direct` and the family).
const ROWS_PER_LINK: usize = 1;
const HOUR: Duration = Duration::from_secs(3600);

struct Setup {
    sql: Sql,
    store: Arc<dyn LinkStore>,
    codes: Vec<String>,
    _service: Service,
    _dir: tempfile::TempDir,
}

/// A SQLite store holding `links` links (shortened through a service, which the store
/// outlives).
async fn setup(links: usize) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("links.db").display());
    let sql = Sql::connect(&url, &SqlConfig::default()).await.unwrap();
    let store: Arc<dyn LinkStore> = Arc::new(SqlStore::open(sql.clone()).await.unwrap());
    let settings = ShortenerConfig::default().validate().unwrap();
    let codes = CodeSource::Hash(HashCodes::new(default_hash(), "!", 1_000));
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(NOW_MS));
    let cache = Cache::Memory(MemoryCache::new(1 << 20));
    let service = Service::new(Arc::clone(&store), cache, codes, settings, Vec::new(), clock);
    let mut codes = Vec::new();
    for n in 0..links {
        let request =
            ShortenRequest { long_url: format!("https://batch.example/{n}"), ..Default::default() };
        let shortened = service.shorten(&request, &Caller::default(), None).await.unwrap();
        codes.push(shortened.link.code.to_string());
    }
    Setup { sql, store, codes, _service: service, _dir: dir }
}

async fn clicks(store: &Arc<dyn LinkStore>, code: &str) -> i64 {
    let stats = store.stats(code).await.unwrap().unwrap();
    stats.daily.iter().map(|(_, clicks)| clicks).sum()
}

fn click(code: &str) -> Click<'_> {
    Click::new(code, NOW_MS, None, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_batch_makes_redirects_wait_for_the_writer_and_loses_no_click() {
    let setup = setup(2).await;
    let (sql, store, codes) = (&setup.sql, &setup.store, &setup.codes);
    let (a, b) = (codes[0].as_str(), codes[1].as_str());
    // A batch is full at one link's rows.
    let analytics = Analytics::start(Arc::clone(store), ROWS_PER_LINK, HOUR);
    let Sql::Sqlite(pool) = sql else { panic!("the store is SQLite") };
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *holder).await.unwrap();

    // The first click fills batch 1; the writer takes it and waits for the lock.
    assert!(analytics.try_record(&click(a)));
    let taken = async {
        while !analytics.try_record(&click(b)) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(2), taken).await.expect("the writer took batch 1");
    // Batch 2 (b's click) is full too, and batch 1 is still being written: refused.
    assert!(!analytics.try_record(&click(a)), "a full batch refuses more clicks");
    let waiting = {
        let analytics = analytics.clone();
        let a = a.to_owned();
        tokio::spawn(async move { analytics.record(&click(&a)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a redirect waits while both batches are full");

    sqlx::query("COMMIT").execute(&mut *holder).await.unwrap();
    drop(holder);
    tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting click got room once batch 1 was written")
        .unwrap();
    assert!(analytics.flush(Duration::from_secs(5)).await);
    assert_eq!(clicks(store, a).await, 2);
    assert_eq!(clicks(store, b).await, 1);
}

#[tokio::test]
async fn a_flush_waits_for_every_click_recorded_before_it() {
    let setup = setup(50).await;
    let (store, codes) = (&setup.store, &setup.codes);
    let analytics = Analytics::start(Arc::clone(store), 10_000, HOUR);
    for round in 1..=3_i64 {
        for code in codes {
            assert!(analytics.try_record(&click(code)));
        }
        assert!(analytics.flush(Duration::from_secs(5)).await);
        for code in codes {
            assert_eq!(clicks(store, code).await, round, "{code} after flush {round}");
        }
    }
    // Nothing recorded: a flush still answers.
    assert!(analytics.flush(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn a_batch_is_written_flush_interval_after_its_first_click() {
    let setup = setup(1).await;
    let (store, codes) = (&setup.store, &setup.codes);
    let analytics = Analytics::start(Arc::clone(store), 10_000, Duration::from_millis(100));
    assert!(analytics.try_record(&click(&codes[0])));
    let written = async {
        while clicks(store, &codes[0]).await == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), written).await.expect("written without a flush");
}

#[tokio::test]
async fn dropping_the_last_handle_writes_what_the_batch_holds() {
    let setup = setup(1).await;
    let (store, codes) = (&setup.store, &setup.codes);
    let analytics = Analytics::start(Arc::clone(store), 10_000, HOUR);
    let copy = analytics.clone();
    for _ in 0..7 {
        assert!(copy.try_record(&click(&codes[0])));
    }
    drop(analytics);
    drop(copy);
    let written = async {
        while clicks(store, &codes[0]).await < 7 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), written)
        .await
        .expect("the writer wrote and ended");
    assert_eq!(clicks(store, &codes[0]).await, 7);
}

#[tokio::test]
async fn clicks_of_a_link_deleted_before_the_write_are_dropped() {
    let setup = setup(3).await;
    let (sql, store, codes) = (&setup.sql, &setup.store, &setup.codes);
    let analytics = Analytics::start(Arc::clone(store), 10_000, HOUR);
    for code in codes {
        let referred = Click::new(code, NOW_MS, Some("https://from.example/"), Some("curl/8"));
        assert!(analytics.try_record(&referred));
        assert!(analytics.try_record(&click(code)));
    }
    assert!(store.delete(&codes[1]).await.unwrap());
    assert!(analytics.flush(Duration::from_secs(5)).await);
    assert_eq!(clicks(store, &codes[0]).await, 2);
    assert_eq!(clicks(store, &codes[2]).await, 2);
    let stats = store.stats(&codes[2]).await.unwrap().unwrap();
    assert_eq!(stats.referrers, [("direct".to_owned(), 1), ("from.example".to_owned(), 1)]);
    assert_eq!(stats.agents, [("curl".to_owned(), 1), ("unknown".to_owned(), 1)]);
    let Sql::Sqlite(pool) = sql else { panic!("the store is SQLite") };
    for table in ["shortener_clicks_daily", "shortener_referrers", "shortener_agents"] {
        let text = format!("SELECT count(*) FROM {table} WHERE code = $1");
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(text))
            .bind(&codes[1])
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(rows, 0, "{table} holds clicks of the deleted link");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_waits_for_another_writer_instead_of_failing() {
    // Held longer than the writer's retries take (200 + 400 ms) when each attempt fails
    // at once, shorter than SQLite's busy timeout (5 s): the write waits, nothing drops.
    let setup = setup(2).await;
    let (sql, store, codes) = (&setup.sql, &setup.store, &setup.codes);
    let analytics = Analytics::start(Arc::clone(store), 10_000, HOUR);
    let Sql::Sqlite(pool) = sql else { panic!("the store is SQLite") };
    let mut holder = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *holder).await.unwrap();
    for code in codes {
        assert!(analytics.try_record(&click(code)));
    }
    let flushed = {
        let analytics = analytics.clone();
        tokio::spawn(async move { analytics.flush(Duration::from_secs(10)).await })
    };
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    sqlx::query("COMMIT").execute(&mut *holder).await.unwrap();
    drop(holder);
    assert!(flushed.await.unwrap(), "the batch was written once the lock was free");
    for code in codes {
        assert_eq!(clicks(store, code).await, 1, "{code}");
    }
}

#[tokio::test]
async fn counts_stored_before_the_inline_columns_still_count() {
    // Before migration 0002, clicks without a referrer were a `direct` row of the
    // referrers table and each family a row of the agents table; stats add both forms.
    let setup = setup(1).await;
    let (sql, store, code) = (&setup.sql, &setup.store, &setup.codes[0]);
    let Sql::Sqlite(pool) = sql else { panic!("the store is SQLite") };
    for (text, rows) in [
        (
            "INSERT INTO shortener_clicks_daily (code, day, clicks) VALUES ($1, $2, $3)",
            [("2027-01-01", 5)].as_slice(),
        ),
        (
            "INSERT INTO shortener_referrers (code, host, clicks) VALUES ($1, $2, $3)",
            &[("direct", 4), ("old.example", 1)],
        ),
        (
            "INSERT INTO shortener_agents (code, family, clicks) VALUES ($1, $2, $3)",
            &[("curl", 3), ("bot", 2)],
        ),
    ] {
        for (key, clicks) in rows {
            sqlx::query(text).bind(code).bind(key).bind(clicks).execute(pool).await.unwrap();
        }
    }
    let analytics = Analytics::start(Arc::clone(store), 10_000, HOUR);
    assert!(analytics.try_record(&Click::new(code, NOW_MS, None, Some("curl/8"))));
    assert!(analytics.try_record(&Click::new(code, NOW_MS, Some("https://old.example/a"), None)));
    assert!(analytics.flush(Duration::from_secs(5)).await);
    let stats = store.stats(code).await.unwrap().unwrap();
    assert_eq!(stats.daily.iter().map(|(_, clicks)| clicks).sum::<i64>(), 7);
    assert_eq!(stats.referrers, [("direct".to_owned(), 5), ("old.example".to_owned(), 2)]);
    assert_eq!(
        stats.agents,
        [("curl".to_owned(), 4), ("bot".to_owned(), 2), ("unknown".to_owned(), 1)]
    );
}
