//! Link inserts are committed in groups by one task: concurrent inserts all land, each
//! gets its own answer (new, existing plain URL, code taken), and an insert the database
//! refuses fails alone, not its whole group.
#![allow(clippy::unwrap_used, missing_docs)]

use blueprint_platform::config::SqlConfig;
use blueprint_platform::sql::Sql;
use blueprint_shortener::code::ShortCode;
use blueprint_shortener::core::Redirect;
use blueprint_shortener::store::{Inserted, Link, LinkStore, NewLink, SqlStore};

async fn store(dir: &std::path::Path) -> SqlStore {
    let url = format!("sqlite://{}", dir.join("links.db").display());
    let sql = Sql::connect(&url, &SqlConfig::default()).await.unwrap();
    SqlStore::open(sql).await.unwrap()
}

fn new_link(id: u64, url: &str, max_clicks: Option<i64>, plain: bool) -> NewLink {
    NewLink {
        link: Link {
            code: ShortCode::from_id(id),
            long_url: url.to_owned(),
            created_at_ms: 1,
            expires_at_ms: None,
            max_clicks,
            clicks: 0,
            redirect: Redirect::Permanent,
            disabled: false,
            api_key_id: 0,
        },
        plain,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inserts_each_get_their_own_answer_and_a_refused_one_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    store.insert(&new_link(1_000_000, "https://taken.example/", None, false)).await.unwrap();
    store.insert(&new_link(1_000_001, "https://plain.example/", None, true)).await.unwrap();

    let before = store.insert_transactions();
    // 400 inserts at once: more than one group's worth, queued while groups commit.
    let mut tasks = Vec::new();
    for n in 0..400u64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let new = match n {
                // The CHECK (max_clicks > 0) refuses this row.
                7 => new_link(10 + n, "https://refused.example/", Some(0), false),
                // Its code is taken.
                8 => new_link(1_000_000, "https://other.example/", None, false),
                // The same plain URL exists under another code.
                9 => new_link(10 + n, "https://plain.example/", None, true),
                _ => new_link(10 + n, &format!("https://ok.example/{n}"), None, true),
            };
            (n, store.insert(&new).await)
        }));
    }
    let mut created = 0;
    for task in tasks {
        let (n, outcome) = task.await.unwrap();
        match (n, outcome) {
            (7, outcome) => assert!(outcome.is_err(), "the refused row: {outcome:?}"),
            (8, outcome) => assert!(matches!(outcome, Ok(Inserted::CodeTaken)), "{outcome:?}"),
            (9, Ok(Inserted::Existing(link))) => {
                assert_eq!(link.code, ShortCode::from_id(1_000_001));
            }
            (n, Ok(Inserted::New(link))) => {
                assert_eq!(link.long_url, format!("https://ok.example/{n}"));
                created += 1;
            }
            (n, outcome) => panic!("insert {n}: {outcome:?}"),
        }
    }
    assert_eq!(created, 397);
    // Grouped: far fewer groups than inserts (2 or 3 in the runs seen).
    let transactions = store.insert_transactions() - before;
    assert!(transactions < 400 - 100, "{transactions} transactions for 400 inserts");
    assert_eq!(store.count_links().await.unwrap(), 2 + 397);
    for n in [0u64, 199, 399] {
        let link = store.get(ShortCode::from_id(10 + n).as_str()).await.unwrap().unwrap();
        assert_eq!(link.long_url, format!("https://ok.example/{n}"));
    }
    assert!(store.get(ShortCode::from_id(17).as_str()).await.unwrap().is_none());
}

/// The stores to run on: SQLite, and PostgreSQL (a fresh schema) when
/// `BLUEPRINT_TEST_POSTGRES_URL` is set.
async fn stores(dir: &std::path::Path) -> Vec<SqlStore> {
    let mut all = vec![store(dir).await];
    match std::env::var("BLUEPRINT_TEST_POSTGRES_URL") {
        Ok(url) => {
            let schema =
                format!("insert_groups_{}_{}", std::process::id(), dir.display().to_string().len());
            let config = SqlConfig { schema: Some(schema), ..SqlConfig::default() };
            let sql = Sql::connect(&url, &config).await.unwrap();
            all.push(SqlStore::open(sql).await.unwrap());
        }
        Err(_) => eprintln!("skipped PostgreSQL: BLUEPRINT_TEST_POSTGRES_URL is not set"),
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_new_code_or_one_plain_url_inserted_many_times_at_once_lands_once() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()).await {
        // 64 inserts of one new code with different URLs (a group with a code twice
        // goes a row at a time), then 64 plain inserts of one URL under distinct codes
        // (one multi-row statement, the plain index refusing all but one).
        let mut tasks = Vec::new();
        for n in 0..128u64 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let new = if n < 64 {
                    new_link(5_000_000, &format!("https://alias.example/{n}"), None, false)
                } else {
                    new_link(6_000_000 + n, "https://same.example/", None, true)
                };
                (n, store.insert(&new).await.unwrap())
            }));
        }
        let (mut alias_winners, mut plain_winners, mut existing) = (0, Vec::new(), Vec::new());
        for task in tasks {
            match task.await.unwrap() {
                (n, Inserted::New(_)) if n < 64 => alias_winners += 1,
                (n, Inserted::CodeTaken) if n < 64 => {}
                (_, Inserted::New(link)) => plain_winners.push(link.code),
                (_, Inserted::Existing(link)) => existing.push(link.code),
                (n, other) => panic!("insert {n}: {other:?}"),
            }
        }
        assert_eq!(alias_winners, 1);
        assert_eq!(plain_winners.len(), 1, "{plain_winners:?}");
        assert_eq!(existing.len(), 63);
        assert!(existing.iter().all(|code| *code == plain_winners[0]));
        assert_eq!(store.count_links().await.unwrap(), 2);
    }
}
