//! The unique ID generator as `blueprint up` mounts it, through real HTTP on every SQL
//! backend (PostgreSQL when `BLUEPRINT_TEST_POSTGRES_URL` is set), and `blueprint ids` as a
//! user runs it.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::Path;
use std::sync::Arc;

use blueprint::systems::ids::Ids;
use blueprint_platform::clock::{Clock as _, SystemClock};
use blueprint_platform::config::{Config, LoadedConfig};
use blueprint_testkit::{Backends, SqlChoice, TestApp, error_code, spawn_configured, sql_choices};
use serde_json::{Value, json};

/// An app running only the ID generator with `[ids]` = `section`, its config adjusted by
/// `adjust` (to share a database with another app).
async fn try_app(
    sql: &SqlChoice,
    section: Value,
    adjust: impl FnOnce(&mut Config),
) -> anyhow::Result<TestApp> {
    spawn_configured(
        Backends { sql: sql.clone(), ..Backends::default() },
        vec![Arc::new(Ids)],
        Arc::new(SystemClock),
        adjust,
        move |loaded: LoadedConfig, _: &Path| Ok(loaded.with_section("ids", section)),
    )
    .await
}

async fn app(sql: &SqlChoice, section: Value) -> TestApp {
    try_app(sql, section, |_| {}).await.unwrap()
}

/// Point an app at one database every caller shares: a SQLite file in `dir`, or the
/// PostgreSQL schema `schema`.
fn shared_database(sql: &SqlChoice, dir: &Path, schema: &str) -> impl FnOnce(&mut Config) {
    let url = format!("sqlite://{}", dir.join("shared.db").display());
    let (sql, schema) = (sql.clone(), schema.to_owned());
    move |config: &mut Config| match sql {
        SqlChoice::Sqlite => config.sql.url = Some(url),
        SqlChoice::Postgres(_) => config.sql.schema = Some(schema),
    }
}

/// `GET /api/v1/ids?kind=<kind>&count=<count>`, asserting a 200 and the echoed kind/count.
async fn ids(app: &TestApp, kind: &str, count: usize) -> Vec<String> {
    let (status, body) = app.get_json(&format!("/api/v1/ids?kind={kind}&count={count}")).await;
    assert_eq!(status, 200, "{kind}: {body}");
    assert_eq!((body["kind"].as_str(), body["count"].as_u64()), (Some(kind), Some(count as u64)));
    let ids: Vec<String> =
        body["ids"].as_array().unwrap().iter().map(|id| id.as_str().unwrap().to_owned()).collect();
    assert_eq!(ids.len(), count);
    ids
}

fn numbers(ids: &[String]) -> Vec<u64> {
    ids.iter().map(|id| id.parse().unwrap()).collect()
}

fn strictly_increasing<T: PartialOrd>(values: &[T]) -> bool {
    values.windows(2).all(|pair| pair[0] < pair[1])
}

/// The datacenter and worker fields of a Snowflake ID, by the server's decode route.
async fn node_of(app: &TestApp, id: u64) -> (u64, u64) {
    let (status, decoded) = app.get_json(&format!("/api/v1/ids/{id}/decode")).await;
    assert_eq!(status, 200, "{decoded}");
    (decoded["datacenter"].as_u64().unwrap(), decoded["worker"].as_u64().unwrap())
}

#[tokio::test]
async fn snowflake_ids_are_unique_increasing_and_carry_the_leased_worker() {
    for sql in sql_choices() {
        let app = app(&sql, json!({"datacenter": 3})).await;
        let batch = numbers(&ids(&app, "snowflake", 1000).await);
        assert!(strictly_increasing(&batch), "{sql:?}: a batch of 1000 is strictly increasing");
        let next = numbers(&ids(&app, "snowflake", 1).await);
        assert!(next[0] > batch[999], "{sql:?}: the next request continues upwards");

        let (status, decoded) = app.get_json(&format!("/api/v1/ids/{}/decode", batch[999])).await;
        assert_eq!(status, 200, "{decoded}");
        assert_eq!(decoded["id"], batch[999].to_string());
        assert_eq!(
            (decoded["datacenter"].as_u64(), decoded["worker"].as_u64()),
            (Some(3), Some(0))
        );
        let fields = decoded["fields"].as_array().unwrap();
        assert_eq!(fields.iter().map(|field| field["bits"].as_u64().unwrap()).sum::<u64>(), 64);
        let age_ms = SystemClock.now_ms() - decoded["timestamp_ms"].as_i64().unwrap();
        assert!((0..60_000).contains(&age_ms), "issued just now, {age_ms} ms ago");
    }
}

#[tokio::test]
async fn segment_ids_of_a_configured_tag_are_unique_and_increasing_across_requests() {
    for sql in sql_choices() {
        // A step of 300 makes 2 × 1000 IDs cross several segments (and the double buffer).
        let section = json!({"segment_tags": ["order", "invoice"], "segment_step": 300});
        let app = app(&sql, section).await;
        let mut issued = numbers(&ids(&app, "segment:order", 1000).await);
        issued.extend(numbers(&ids(&app, "segment:order", 1000).await));
        assert!(strictly_increasing(&issued), "{sql:?}: unique and increasing across requests");
        assert_eq!(issued[0], 1, "{sql:?}: a new tag starts at 1");
        assert_eq!(numbers(&ids(&app, "segment:invoice", 2).await), [1, 2], "{sql:?}: per tag");
    }
}

#[tokio::test]
async fn uuid7_and_ulid_ids_are_well_formed_and_increasing() {
    let app = app(&SqlChoice::Sqlite, json!({})).await;
    let uuids = ids(&app, "uuid7", 100).await;
    assert!(uuids.iter().all(|uuid| uuid.len() == 36 && uuid.as_bytes()[14] == b'7'), "{uuids:?}");
    assert!(strictly_increasing(&uuids), "monotonic UUIDv7 sort as text");
    let ulids = ids(&app, "ulid", 100).await;
    let crockford = |c: char| c.is_ascii_digit() || (c.is_ascii_uppercase() && !"ILOU".contains(c));
    assert!(ulids.iter().all(|ulid| ulid.len() == 26 && ulid.chars().all(crockford)), "{ulids:?}");
    assert!(strictly_increasing(&ulids), "monotonic ULIDs sort as text");
    let (status, body) = app.get_json("/api/v1/ids").await;
    assert_eq!(status, 200);
    assert_eq!((body["kind"].as_str(), body["count"].as_u64()), (Some("snowflake"), Some(1)));
}

#[tokio::test]
async fn two_servers_on_one_database_lease_different_worker_ids() {
    for sql in sql_choices() {
        let dir = tempfile::tempdir().unwrap();
        let schema = blueprint_testkit::unique_name("bp_ids");
        let section = json!({"datacenter": 1});
        let first = try_app(&sql, section.clone(), shared_database(&sql, dir.path(), &schema))
            .await
            .unwrap();
        let second =
            try_app(&sql, section, shared_database(&sql, dir.path(), &schema)).await.unwrap();
        let one = numbers(&ids(&first, "snowflake", 1).await)[0];
        let other = numbers(&ids(&second, "snowflake", 1).await)[0];
        let nodes = (node_of(&first, one).await, node_of(&second, other).await);
        assert_eq!(nodes, ((1, 0), (1, 1)), "{sql:?}: the second server leased the next worker");
        // They share the segment table too: one tag's IDs never repeat across servers.
        let mut segments = numbers(&ids(&first, "segment:order", 10).await);
        segments.extend(numbers(&ids(&second, "segment:order", 10).await));
        segments.sort_unstable();
        segments.dedup();
        assert_eq!(segments.len(), 20, "{sql:?}: segment IDs are unique across servers");
    }
}

#[tokio::test]
async fn bad_requests_get_idgens_codes_and_statuses() {
    for sql in sql_choices() {
        let app = app(&sql, json!({})).await;
        for (path, status, code) in [
            ("/api/v1/ids?count=0", 400, "invalid_count"),
            ("/api/v1/ids?count=10001", 400, "invalid_count"),
            ("/api/v1/ids?count=ten", 400, "invalid_count"),
            ("/api/v1/ids?kind=nope", 400, "unknown_kind"),
            ("/api/v1/ids?kind=segment:missing", 404, "unknown_biz_tag"),
            ("/api/v1/ids/abc/decode", 400, "invalid_id"),
            ("/api/v1/ids/9223372036854775808/decode", 400, "invalid_id"),
        ] {
            let (got, body) = app.get_json(path).await;
            assert_eq!((got, error_code(&body)), (status, Some(code)), "{sql:?} {path}: {body}");
            assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let (status, _) = app.get_json("/api/v1/ids?count=10000").await;
        assert_eq!(status, 200, "{sql:?}: the limit itself is allowed");
    }
}

#[tokio::test]
async fn a_datacenter_outside_the_layout_stops_the_mount_naming_it() {
    let result = try_app(&SqlChoice::Sqlite, json!({"datacenter": 32}), |_| {}).await;
    let error = format!("{:#}", result.err().unwrap());
    assert!(error.contains("datacenter = 32") && error.contains("0..=31"), "{error}");
    let result = try_app(&SqlChoice::Sqlite, json!({"datacentre": 1}), |_| {}).await;
    let error = format!("{:#}", result.err().unwrap());
    assert!(error.contains("datacentre"), "unknown keys are refused: {error}");
}

#[tokio::test]
async fn the_console_and_openapi_list_the_id_generator() {
    let app = spawn_configured(
        Backends::default(),
        blueprint::registry::systems(),
        Arc::new(SystemClock),
        blueprint_testkit::tolerate_down_backends,
        |loaded, _| Ok(loaded),
    )
    .await
    .unwrap();
    let (status, systems) = app.get_json("/api/v1/systems").await;
    assert_eq!(status, 200);
    let entry = systems.as_array().unwrap().iter().find(|s| s["name"] == "ids").unwrap();
    assert_eq!((entry["state"].as_str(), entry["page"].as_str()), (Some("ready"), Some("/ids/")));
    assert_eq!(entry["crate"], "blueprint-idgen");

    let page = app.client.get(app.url("/ids/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("/api/v1/ids"));

    let (status, document) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    for path in ["/api/v1/ids", "/api/v1/ids/{id}/decode"] {
        assert!(document["paths"].get(path).is_some(), "{path} missing from /openapi.json");
    }
    for schema in ["IdsResponse", "DecodeResponse", "BitField"] {
        assert!(document["components"]["schemas"].get(schema).is_some(), "schema {schema}");
    }
}

fn blueprint_cli(args: &[&str], dir: &Path) -> String {
    let output = common::blueprint(args, dir);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[test]
fn the_cli_prints_new_ids_and_decodes_them() {
    let dir = tempfile::tempdir().unwrap();
    let printed = blueprint_cli(&["ids", "new", "--count", "3"], dir.path());
    let lines: Vec<u64> = printed.lines().map(|line| line.parse().unwrap()).collect();
    assert_eq!(lines.len(), 3, "{printed}");
    assert!(strictly_increasing(&lines), "{printed}");

    let printed =
        blueprint_cli(&["ids", "new", "-n", "1", "--datacenter", "2", "--worker", "5"], dir.path());
    let id = printed.trim().to_owned();
    // `id` is an alias of `ids` (the issue spells the commands `blueprint id ...`).
    let text = blueprint_cli(&["id", "decode", &id], dir.path());
    assert!(text.contains(&id) && text.contains("datacenter  2"), "{text}");
    assert!(text.contains("worker      5"), "{text}");
    let json: Value =
        serde_json::from_str(&blueprint_cli(&["ids", "decode", &id, "--json"], dir.path()))
            .unwrap();
    assert_eq!((json["datacenter"].as_u64(), json["worker"].as_u64()), (Some(2), Some(5)));
}
