//! Sharded autocomplete as separate processes (book 13.3.5): three `blueprint
//! autocomplete serve --shard I --of 3` processes and a `serve --router` in front answer
//! exactly as one unsharded node over the same data, on every prefix tried; a shard that
//! goes down makes the router answer 503 `shard_unavailable` for the prefixes it holds,
//! never a partial list.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use blueprint_autocomplete::normalize::{DEFAULT_MAX_PREFIX_CHARS, Prefix};
use blueprint_autocomplete::shard::ShardMap;
use common::{BIN, blueprint, free_port};
use serde_json::Value;

/// How long a started server may take to answer (debug build, trie from the snapshot).
const STARTUP: Duration = Duration::from_secs(30);
const SHARDS: usize = 3;

/// A server process, killed when the test ends however it ends.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(config: &Path, dir: &Path, name: &str, extra: &[String]) -> Server {
        let port = free_port();
        let data = dir.join(name);
        let mut args: Vec<String> = ["--config", config.to_str().unwrap(), "autocomplete", "serve"]
            .iter()
            .map(|arg| arg.to_string())
            .collect();
        args.extend(["--port".into(), port.to_string(), "--data-dir".into()]);
        args.push(data.to_str().unwrap().to_owned());
        args.extend(extra.iter().cloned());
        let child = Command::new(BIN)
            .args(&args)
            .current_dir(dir)
            .env_remove("BLUEPRINT_CONFIG")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Server { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits until `path` answers 200 (a router answers 503 until it knows the map).
    fn wait_ready(&mut self, client: &reqwest::blocking::Client, path: &str) {
        let deadline = Instant::now() + STARTUP;
        loop {
            let answered = client.get(format!("{}{path}", self.url())).send();
            if answered.is_ok_and(|response| response.status() == 200) {
                return;
            }
            assert!(self.child.try_wait().unwrap().is_none(), "server on {} exited", self.port);
            assert!(Instant::now() < deadline, "server on {} never became ready", self.port);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Status, body and `Cache-Control` of `GET /api/v1/autocomplete?<query>`.
fn ask(client: &reqwest::blocking::Client, server: &Server, query: &str) -> (u16, Value, String) {
    let response =
        client.get(format!("{}/api/v1/autocomplete?{query}", server.url())).send().unwrap();
    let status = response.status().as_u16();
    let cache_control = response
        .headers()
        .get("cache-control")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, response.json().unwrap(), cache_control)
}

/// Prefixes to compare: every 1- and 2-character start of the log's first queries, longer
/// ones, case and accent variants, a trailing space, and every start of each shard
/// boundary (the prefixes that straddle shards).
fn prefixes(log: &Path, boundaries: &[String]) -> Vec<String> {
    let text = std::fs::read_to_string(log).unwrap();
    let mut chosen = BTreeSet::new();
    for line in text.lines().take(800) {
        let query = line.split_once('\t').unwrap().1;
        let chars: Vec<char> = query.chars().collect();
        for length in [1, 2, 3, 5, 8] {
            if chars.len() >= length {
                let prefix: String = chars[..length].iter().collect();
                if !prefix.trim().is_empty() {
                    chosen.insert(prefix.clone());
                    chosen.insert(prefix.to_uppercase());
                }
            }
        }
        if let Some(space) = query.find(' ') {
            chosen.insert(query[..=space].to_owned()); // "car " must not suggest "carpet"
        }
    }
    for boundary in boundaries {
        for (end, _) in boundary.char_indices().skip(1).chain([(boundary.len(), ' ')]) {
            chosen.insert(boundary[..end].to_owned());
        }
    }
    chosen.extend(["zzzzzz".to_owned(), "e\u{301}".to_owned(), "É".to_owned()]);
    chosen.into_iter().collect()
}

#[test]
fn three_shard_processes_behind_a_router_answer_as_one_node_and_a_dead_shard_is_a_503() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = blueprint(args, dir.path());
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    };
    run(&["autocomplete", "generate", "--lines", "60000", "--distinct", "8000", "--out", "q.log"]);
    run(&["autocomplete", "build", "--log", "q.log", "--snapshot", "t.snapshot"]);
    let log = dir.path().join("q.log");
    let config = dir.path().join("blueprint.toml");
    std::fs::write(
        &config,
        format!(
            "[autocomplete]\nlog_path = {:?}\nsnapshot_path = {:?}\nrebuild_interval_s = 3600\n",
            log.to_str().unwrap(),
            dir.path().join("t.snapshot").to_str().unwrap()
        ),
    )
    .unwrap();
    let client = reqwest::blocking::Client::new();
    let mut single = Server::start(&config, dir.path(), "single", &[]);
    let mut shards: Vec<Server> = (0..SHARDS)
        .map(|index| {
            let args = ["--shard".into(), index.to_string(), "--of".into(), SHARDS.to_string()];
            Server::start(&config, dir.path(), &format!("shard{index}"), &args)
        })
        .collect();
    let urls: Vec<String> = shards.iter().map(Server::url).collect();
    let mut router =
        Server::start(&config, dir.path(), "router", &["--router".into(), urls.join(",")]);
    single.wait_ready(&client, "/api/v1/autocomplete?q=a");
    for shard in &mut shards {
        shard.wait_ready(&client, "/api/v1/autocomplete/shard");
    }
    router.wait_ready(&client, "/api/v1/autocomplete?q=a");

    // Each shard reports its place in one shared map.
    let mut boundaries: Option<Vec<String>> = None;
    for (index, shard) in shards.iter().enumerate() {
        let url = format!("{}/api/v1/autocomplete/shard", shard.url());
        let body: Value = client.get(url).send().unwrap().json().unwrap();
        assert_eq!((body["index"].as_u64(), body["of"].as_u64()), (Some(index as u64), Some(3)));
        let reported: Vec<String> = serde_json::from_value(body["boundaries"].clone()).unwrap();
        assert_eq!(reported.len(), SHARDS - 1, "{body}");
        assert!(boundaries.as_ref().is_none_or(|first| *first == reported), "{body}");
        boundaries = Some(reported);
    }
    let boundaries = boundaries.unwrap();

    // The router answers exactly as the single node, body and headers.
    let prefixes = prefixes(&log, &boundaries);
    assert!(prefixes.len() > 500, "{} prefixes", prefixes.len());
    let mut answered = 0;
    for prefix in &prefixes {
        for k in [5, 10] {
            let query = format!("q={}&k={k}", urlencode(prefix));
            let expected = ask(&client, &single, &query);
            assert_eq!(ask(&client, &router, &query), expected, "{prefix:?} k={k}");
            assert_eq!(expected.0, 200, "{prefix:?}: {}", expected.1);
            answered += usize::from(!expected.1["suggestions"].as_array().unwrap().is_empty());
        }
    }
    assert!(answered > prefixes.len(), "most prefixes have suggestions: {answered}");
    // Prefixes straddling a boundary really needed several shards: no shard alone has
    // the single node's answer for at least one of them.
    let map = ShardMap::from_boundaries(boundaries.clone()).unwrap();
    let straddling: Vec<&String> =
        prefixes.iter().filter(|prefix| map.route(&key(prefix)).len() > 1).collect();
    let needed_several = straddling.iter().any(|prefix| {
        let query = format!("q={}&k=10", urlencode(prefix));
        let whole = ask(&client, &single, &query).1["suggestions"].clone();
        shards.iter().all(|shard| ask(&client, shard, &query).1["suggestions"] != whole)
    });
    assert!(needed_several, "{} straddling prefixes, none needed two shards", straddling.len());

    // Bad input: the same coded 400s as a single node.
    for query in ["q=", "q=ab&k=11", "q=ab&k=x", "q=%FF", &format!("q={}", "a".repeat(51))] {
        let (status, body, _) = ask(&client, &router, query);
        let (single_status, single_body, _) = ask(&client, &single, query);
        assert_eq!(
            (status, &body["error"]["code"]),
            (single_status, &single_body["error"]["code"])
        );
        assert_eq!(status, 400, "{query}: {body}");
    }

    // A search submitted to the router lands in the owning shard's log.
    let response = client
        .post(format!("{}/api/v1/autocomplete/queries", router.url()))
        .json(&serde_json::json!({"query": "Zzyzx Road"}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    assert!(std::fs::read_to_string(&log).unwrap().ends_with("\tZzyzx Road\n"));

    // Shard 1 goes down: exactly the prefixes routed to it get 503 shard_unavailable,
    // never a partial list; prefixes held by the other shards alone are still answered.
    shards[1].stop();
    let (mut refused, mut served) = (0, 0);
    for prefix in &prefixes {
        let query = format!("q={}&k=5", urlencode(prefix));
        let (status, body, _) = ask(&client, &router, &query);
        if map.route(&key(prefix)).contains(&1) {
            assert_eq!((status, body["error"]["code"].as_str()), (503, Some("shard_unavailable")));
            refused += 1;
        } else {
            assert_eq!((status, &body), (200, &ask(&client, &single, &query).1), "{prefix:?}");
            served += 1;
        }
    }
    assert!(refused > 0 && served > 0, "{refused} refused, {served} served");
}

/// The normalised key of a prefix, as the shard map is cut in.
fn key(prefix: &str) -> String {
    Prefix::parse(prefix, DEFAULT_MAX_PREFIX_CHARS).unwrap().as_key().to_owned()
}

#[test]
fn bad_shard_arguments_are_refused_before_serving() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["autocomplete", "serve", "--shard", "3", "--of", "3"][..],
        &["autocomplete", "serve", "--shard", "0"][..],
        &["autocomplete", "serve", "--shard", "0", "--of", "2", "--router", "http://x"][..],
        &["autocomplete", "serve", "--router", "ftp://x"][..],
    ] {
        let output = blueprint(args, dir.path());
        assert!(!output.status.success(), "{args:?} was accepted");
        assert!(!output.stderr.is_empty(), "{args:?}: no message");
    }
}
