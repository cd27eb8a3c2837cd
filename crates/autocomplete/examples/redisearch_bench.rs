//! Side by side with RediSearch `FT.SUGGET` on the same dictionary (run by
//! `bench/autocomplete.sh`, which starts both servers pinned to one core).
//!
//! ```text
//! redisearch_bench --snapshot T --log L --redis 127.0.0.1:6390 --http 127.0.0.1:PORT \
//!     [--seconds 10] [--connections 32] [--rounds 2] [--wrk-script PATH]
//! ```
//!
//! 1. Loads every query of the Trie DB snapshot into RediSearch with `FT.SUGADD key
//!    <display form> <aggregated frequency>` (pipelined), and reports memory per
//!    suggestion: Redis's resident set (`used_memory_rss`) after minus before, over
//!    `FT.SUGLEN`, against our trie's heap bytes over its queries (and the growth of this
//!    process's resident set while it reads the snapshot). RediSearch 1.x allocates its
//!    trie nodes with libc `malloc`, which Redis's `used_memory` does not count, so that
//!    figure is printed but not compared.
//! 2. Draws prefixes (the first 1–4 characters of
//!    the log's first 20,000 queries) and reports ranking agreement: the fraction of
//!    prefixes whose top-5 lists are equal and the mean overlap, against our top 5, and
//!    against our dictionary ranked by RediSearch's own prefix score (frequency divided
//!    by √(1 + characters past the prefix)), which checks the dictionaries match.
//! 3. In-process lookup latency of our trie and of the whole service path (parse,
//!    normalise, look up, filter), mean over the prefixes.
//! 4. Over the network, the same closed-loop client for both: `--connections`
//!    connections, each sending one request and reading its answer before the next
//!    (no pipelining), random prefixes from the same list, `--seconds` a round; RESP
//!    `FT.SUGGET key prefix MAX 5` against HTTP `GET /api/v1/autocomplete?k=5&q=prefix`,
//!    alternating, `--rounds` rounds each. Requests/s and latency percentiles, and the
//!    ratio ours / RediSearch per round.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use blueprint_autocomplete::config::AutocompleteConfig;
use blueprint_autocomplete::filter::Blocklist;
use blueprint_autocomplete::normalize::Prefix;
use blueprint_autocomplete::service::Autocomplete;
use blueprint_autocomplete::snapshot;
use blueprint_autocomplete::trie::Trie;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The suggestion dictionary's key in Redis.
const DICTIONARY: &str = "blueprint:autocomplete:bench";
/// `FT.SUGADD`s sent before reading their replies: large enough to hide round trips.
const LOAD_BATCH: usize = 1000;
/// Queries of the log's head the prefixes are drawn from (as the HTTP bench does).
const PREFIX_SOURCE_LINES: usize = 20_000;
/// Suggestions compared: the book's and FT.SUGGET's default.
const K: usize = 5;
/// Most bytes of one reply the client accepts (a 5-suggestion answer is a few hundred).
const MAX_REPLY_BYTES: usize = 64 * 1024;

struct Args {
    snapshot: PathBuf,
    log: PathBuf,
    redis: SocketAddr,
    http: SocketAddr,
    seconds: u64,
    connections: usize,
    rounds: usize,
    /// Where to write a wrk Lua script requesting the same prefixes, if anywhere.
    wrk_script: Option<PathBuf>,
}

fn args() -> anyhow::Result<Args> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| -> Option<String> {
        args.iter().position(|arg| arg == name).and_then(|index| args.get(index + 1)).cloned()
    };
    let required = |name: &str| value(name).with_context(|| format!("{name} is required"));
    let parsed = Args {
        snapshot: required("--snapshot")?.into(),
        log: required("--log")?.into(),
        redis: required("--redis")?.parse().context("--redis HOST:PORT")?,
        http: required("--http")?.parse().context("--http HOST:PORT")?,
        seconds: value("--seconds").map_or(Ok(10), |text| text.parse()).context("--seconds")?,
        connections: value("--connections")
            .map_or(Ok(32), |text| text.parse())
            .context("--connections")?,
        rounds: value("--rounds").map_or(Ok(2), |text| text.parse()).context("--rounds")?,
        wrk_script: value("--wrk-script").map(PathBuf::from),
    };
    // 6379 is the test suite's Redis; this bench flushes and fills its own instance.
    ensure!(parsed.redis.port() != 6379, "refusing port 6379: start a private redis-server");
    ensure!(parsed.connections > 0 && parsed.rounds > 0 && parsed.seconds > 0, "zero load");
    Ok(parsed)
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let rss_before = resident_kb()?;
    let trie = snapshot::read(&args.snapshot).context("reading the snapshot")?;
    let loaded_rss_bytes = resident_kb()?.saturating_sub(rss_before) * 1024;
    println!(
        "ours: reading the snapshot grew this process's resident set by {:.1} MB ({:.1} B a query)",
        loaded_rss_bytes as f64 / 1e6,
        loaded_rss_bytes as f64 / trie.len().max(1) as f64
    );
    let prefixes = draw_prefixes(&args.log)?;
    if let Some(path) = &args.wrk_script {
        write_wrk_script(path, &prefixes)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(run(&args, trie, &prefixes))
}

async fn run(args: &Args, trie: Trie, prefixes: &[String]) -> anyhow::Result<()> {
    println!(
        "dictionary: {} queries from {}; {} prefixes from {}",
        trie.len(),
        args.snapshot.display(),
        prefixes.len(),
        args.log.display()
    );
    let mut redis = Resp::connect(args.redis).await?;
    let (suggestions, grown) = load_redis(&mut redis, &trie).await?;
    let ours_per = trie.heap_bytes() as f64 / trie.len().max(1) as f64;
    let theirs_per = grown.rss as f64 / suggestions.max(1) as f64;
    println!(
        "memory per suggestion: ours {ours_per:.1} B (trie heap {:.1} MB / {} queries), RediSearch {theirs_per:.1} B (used_memory_rss +{:.1} MB / FT.SUGLEN {suggestions}); ratio ours/RediSearch {:.2}",
        trie.heap_bytes() as f64 / 1e6,
        trie.len(),
        grown.rss as f64 / 1e6,
        ours_per / theirs_per
    );
    println!(
        "  (Redis used_memory grew only {:.1} MB: RediSearch 1.x's trie nodes come from libc malloc, which it does not count)",
        grown.used as f64 / 1e6
    );
    agreement(&mut redis, &trie, prefixes).await?;
    let service = Autocomplete::new(AutocompleteConfig::default(), trie, Blocklist::default());
    in_process(&service, prefixes);

    let duration = Duration::from_secs(args.seconds);
    println!(
        "network: {} connections, closed loop, {} s a round, client on its own core",
        args.connections, args.seconds
    );
    let mut ratios = Vec::new();
    for round in 1..=args.rounds {
        let theirs = load(Target::Redis(args.redis), prefixes, args.connections, duration).await?;
        let ours = load(Target::Http(args.http), prefixes, args.connections, duration).await?;
        println!("round {round}: RediSearch FT.SUGGET {}", theirs.describe());
        println!("round {round}: ours HTTP GET       {}", ours.describe());
        let ratio = ours.per_second() / theirs.per_second();
        println!("round {round}: requests/s ratio ours/RediSearch {ratio:.2}");
        ratios.push(ratio);
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "requests/s ratio ours/RediSearch, median of {} rounds: {:.2}",
        ratios.len(),
        ratios[ratios.len() / 2]
    );
    Ok(())
}

/// The first 1–4 characters of the log's first queries, deduplicated, in a seeded order.
fn draw_prefixes(log: &std::path::Path) -> anyhow::Result<Vec<String>> {
    use std::io::BufRead;
    // The head of the log only: a 100 M-line log is gigabytes.
    let file = std::fs::File::open(log).with_context(|| format!("reading {}", log.display()))?;
    let head = std::io::BufReader::new(file)
        .lines()
        .take(PREFIX_SOURCE_LINES)
        .collect::<Result<Vec<String>, _>>()
        .with_context(|| format!("reading {}", log.display()))?;
    let mut random = SplitMix(13);
    let mut prefixes: Vec<String> = head
        .iter()
        .filter_map(|line| line.split_once('\t').map(|(_, query)| query))
        .map(|query| {
            let length = 1 + (random.next() % 4) as usize;
            let prefix: String = query.chars().take(length).collect();
            let trimmed = prefix.trim_end().to_owned();
            if trimmed.is_empty() { query.chars().take(1).collect() } else { trimmed }
        })
        .collect();
    prefixes.sort();
    prefixes.dedup();
    ensure!(!prefixes.is_empty(), "no prefixes drawn from {}", log.display());
    Ok(prefixes)
}

/// A wrk Lua script requesting `GET /api/v1/autocomplete?k=5&q=<prefix>` for random
/// prefixes of `prefixes`, so wrk loads the server with the same prefixes as this client.
fn write_wrk_script(path: &std::path::Path, prefixes: &[String]) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let mut lua = String::from("prefixes = {\n");
    for prefix in prefixes {
        // Percent-encoded text is only [A-Za-z0-9%._-]: safe inside a Lua string.
        let _ = writeln!(lua, "  \"{}\",", percent_encode(prefix));
    }
    lua.push_str("}\nrequest = function()\n  local p = prefixes[math.random(#prefixes)]\n");
    let _ =
        writeln!(lua, "  return wrk.format(\"GET\", \"/api/v1/autocomplete?k={K}&q=\" .. p)\nend");
    std::fs::write(path, lua).with_context(|| format!("writing {}", path.display()))
}

/// How much Redis grew, by its two counters.
struct Grown {
    used: u64,
    rss: u64,
}

/// Replaces the dictionary with the trie's queries; returns FT.SUGLEN and the growth of
/// `used_memory` and `used_memory_rss`.
async fn load_redis(redis: &mut Resp, trie: &Trie) -> anyhow::Result<(u64, Grown)> {
    redis.call(&["DEL", DICTIONARY]).await?;
    let before = memory(redis).await?;
    let started = Instant::now();
    let entries: Vec<(&str, u64)> =
        trie.entries().map(|(_, display, weight)| (display, weight)).collect();
    for batch in entries.chunks(LOAD_BATCH) {
        for (display, weight) in batch {
            redis.send(&["FT.SUGADD", DICTIONARY, display, &weight.to_string()]);
        }
        redis.flush().await?;
        for _ in batch {
            redis.read_reply().await?;
        }
    }
    let after = memory(redis).await?;
    let length = match redis.call(&["FT.SUGLEN", DICTIONARY]).await? {
        Reply::Integer(length) => length as u64,
        other => bail!("FT.SUGLEN answered {other:?}"),
    };
    println!("RediSearch: loaded {length} suggestions in {:.2} s", started.elapsed().as_secs_f64());
    let grown = Grown {
        used: after.used.saturating_sub(before.used),
        rss: after.rss.saturating_sub(before.rss),
    };
    Ok((length, grown))
}

/// `used_memory` and `used_memory_rss` from `INFO memory`.
async fn memory(redis: &mut Resp) -> anyhow::Result<Grown> {
    let Reply::Bulk(Some(info)) = redis.call(&["INFO", "memory"]).await? else {
        bail!("INFO memory did not answer a bulk string");
    };
    let info = String::from_utf8(info)?;
    let field = |name: &str| -> anyhow::Result<u64> {
        info.lines()
            .find_map(|line| line.strip_prefix(name))
            .with_context(|| format!("no {name} in INFO"))?
            .trim()
            .parse()
            .with_context(|| name.to_owned())
    };
    Ok(Grown { used: field("used_memory:")?, rss: field("used_memory_rss:")? })
}

/// This process's resident set, from `/proc/self/status`.
fn resident_kb() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:")).context("no VmRSS")?;
    line.split_whitespace().nth(1).context("VmRSS value")?.parse().context("VmRSS")
}

/// Top-5 agreement with our ranking and with RediSearch's score over our dictionary.
async fn agreement(redis: &mut Resp, trie: &Trie, prefixes: &[String]) -> anyhow::Result<()> {
    let config = AutocompleteConfig::default();
    let entries: Vec<(&str, &str, u64)> = trie.entries().collect();
    let (mut equal, mut overlap, mut equal_formula, mut overlap_formula) = (0, 0.0, 0, 0.0);
    let mut compared = 0usize;
    for raw in prefixes {
        let Ok(prefix) = Prefix::parse(raw, config.max_prefix_chars) else { continue };
        compared += 1;
        let ours: Vec<String> =
            trie.top_k(prefix.as_key(), K).into_iter().map(|suggestion| suggestion.query).collect();
        let theirs = match redis.call(&["FT.SUGGET", DICTIONARY, raw, "MAX", "5"]).await? {
            Reply::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Reply::Bulk(Some(bytes)) => Ok(String::from_utf8(bytes)?),
                    other => bail!("FT.SUGGET item {other:?}"),
                })
                .collect::<anyhow::Result<Vec<String>>>()?,
            Reply::Bulk(None) | Reply::NullArray => Vec::new(),
            other => bail!("FT.SUGGET answered {other:?}"),
        };
        let formula = redisearch_ranking(&entries, prefix.as_key(), raw.chars().count());
        equal += usize::from(ours == theirs);
        overlap += overlap_of(&ours, &theirs);
        equal_formula += usize::from(formula == theirs);
        overlap_formula += overlap_of(&formula, &theirs);
    }
    let n = compared.max(1) as f64;
    println!(
        "ranking agreement over {compared} prefixes, FT.SUGGET MAX 5 vs our top 5: {:.1} % equal lists, mean overlap {:.1} %",
        100.0 * equal as f64 / n,
        100.0 * overlap / n
    );
    println!(
        "  (vs our dictionary ranked by RediSearch's score, weight/sqrt(1+suffix chars): {:.1} % equal, mean overlap {:.1} %)",
        100.0 * equal_formula as f64 / n,
        100.0 * overlap_formula / n
    );
    Ok(())
}

/// Shared suggestions over the longer list (two empty lists agree fully).
fn overlap_of(a: &[String], b: &[String]) -> f64 {
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    a.iter().filter(|item| b.contains(item)).count() as f64 / longest as f64
}

/// Our dictionary ranked as RediSearch 1.x ranks a prefix match (`Trie_Search` in prefix
/// mode: the stored float score divided by √(1 + characters past the prefix)), by a scan.
fn redisearch_ranking(
    entries: &[(&str, &str, u64)],
    key: &str,
    prefix_chars: usize,
) -> Vec<String> {
    let start = entries.partition_point(|(entry_key, _, _)| *entry_key < key);
    let mut scored: Vec<(f32, &str)> = entries[start..]
        .iter()
        .take_while(|(entry_key, _, _)| entry_key.starts_with(key))
        .map(|(_, display, weight)| {
            let suffix = display.chars().count().abs_diff(prefix_chars);
            ((*weight as f32) / ((1 + suffix) as f64).sqrt() as f32, *display)
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.into_iter().take(K).map(|(_, display)| display.to_owned()).collect()
}

/// In-process latency of a trie lookup and of the whole service path: the mean over 2 s
/// of back-to-back lookups, and p50 / p99 / max of one pass timing each lookup on its
/// own (those include one clock read, ~20 ns).
fn in_process(service: &Autocomplete, prefixes: &[String]) {
    let config = AutocompleteConfig::default();
    let keys: Vec<Prefix> = prefixes
        .iter()
        .filter_map(|raw| Prefix::parse(raw, config.max_prefix_chars).ok())
        .collect();
    let trie = service.cache().current();
    let measure = |name: &str, lookup: &dyn Fn(usize) -> usize| {
        let started = Instant::now();
        let mut done = 0usize;
        while started.elapsed() < Duration::from_secs(2) {
            for index in 0..keys.len() {
                std::hint::black_box(lookup(index));
            }
            done += keys.len();
        }
        let mean = started.elapsed().as_nanos() as f64 / done.max(1) as f64;
        let mut each: Vec<u64> = (0..keys.len())
            .map(|index| {
                let one = Instant::now();
                std::hint::black_box(lookup(index));
                one.elapsed().as_nanos() as u64
            })
            .collect();
        each.sort_unstable();
        let at = |fraction: f64| {
            each.get(((each.len() as f64 * fraction) as usize).min(each.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        println!(
            "in-process {name}: mean {mean:.0} ns over {done} lookups; one by one over {} prefixes: p50 {} ns, p99 {} ns, max {} ns",
            each.len(),
            at(0.5),
            at(0.99),
            each.last().copied().unwrap_or(0)
        );
    };
    measure("trie top 5", &|index| trie.top_k(keys[index].as_key(), K).len());
    measure("service suggest (parse, NFC/fold, trie, filter)", &|index| {
        service
            .suggest(&prefixes[index.min(prefixes.len() - 1)], Some(K))
            .map_or(0, |list| list.len())
    });
}

#[derive(Clone, Copy)]
enum Target {
    Redis(SocketAddr),
    Http(SocketAddr),
}

struct Measured {
    requests: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
}

impl Measured {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, fraction: f64) -> f64 {
        let index = ((self.latencies_us.len() as f64 - 1.0) * fraction).round() as usize;
        self.latencies_us.get(index).map_or(0.0, |us| f64::from(*us) / 1000.0)
    }

    fn describe(&self) -> String {
        format!(
            "{:>8.0} requests/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
            self.per_second(),
            self.percentile(0.50),
            self.percentile(0.90),
            self.percentile(0.99)
        )
    }
}

/// `connections` closed loops against `target` for `duration`.
async fn load(
    target: Target,
    prefixes: &[String],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let requests: std::sync::Arc<Vec<Vec<u8>>> = std::sync::Arc::new(
        prefixes
            .iter()
            .map(|prefix| match target {
                Target::Redis(_) => resp_command(&["FT.SUGGET", DICTIONARY, prefix, "MAX", "5"]),
                Target::Http(_) => format!(
                    "GET /api/v1/autocomplete?k=5&q={} HTTP/1.1\r\nHost: bench\r\n\r\n",
                    percent_encode(prefix)
                )
                .into_bytes(),
            })
            .collect(),
    );
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for connection in 0..connections {
        let requests = std::sync::Arc::clone(&requests);
        tasks.spawn(async move {
            let address = match target {
                Target::Redis(address) | Target::Http(address) => address,
            };
            let stream = TcpStream::connect(address).await?;
            stream.set_nodelay(true)?;
            let mut stream = BufReader::new(stream);
            let mut random = SplitMix(connection as u64 + 1);
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let request = &requests[(random.next() % requests.len() as u64) as usize];
                let sent = Instant::now();
                stream.get_mut().write_all(request).await?;
                match target {
                    Target::Redis(_) => {
                        if let Reply::Error(message) = read_reply(&mut stream).await? {
                            bail!("FT.SUGGET: {message}");
                        }
                    }
                    Target::Http(_) => read_http_ok(&mut stream).await?,
                }
                latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
            }
            anyhow::Ok(latencies)
        });
    }
    let mut latencies_us = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies_us.extend(done??);
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();
    Ok(Measured { requests: latencies_us.len() as u64, elapsed, latencies_us })
}

/// Reads one HTTP/1.1 response, which must be a 200 with a Content-Length body.
async fn read_http_ok(stream: &mut BufReader<TcpStream>) -> anyhow::Result<()> {
    let mut line = String::new();
    let mut status_ok = None;
    let mut length = None;
    loop {
        line.clear();
        ensure!(stream.read_line(&mut line).await? > 0, "connection closed mid-response");
        if status_ok.is_none() {
            status_ok = Some(line.starts_with("HTTP/1.1 200"));
            continue;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = Some(value.trim().parse::<usize>()?);
        }
    }
    let length = length.context("response without Content-Length")?;
    ensure!(length <= MAX_REPLY_BYTES, "response of {length} bytes");
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await?;
    ensure!(status_ok == Some(true), "non-200: {}", String::from_utf8_lossy(&body));
    Ok(())
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// A RESP2 reply, as much of it as this bench reads.
#[derive(Debug)]
enum Reply {
    Status,
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
    NullArray,
}

fn resp_command(parts: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", parts.len()).into_bytes();
    for part in parts {
        out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

async fn read_reply(stream: &mut BufReader<TcpStream>) -> anyhow::Result<Reply> {
    let mut line = String::new();
    ensure!(stream.read_line(&mut line).await? > 0, "connection closed");
    let (kind, rest) = line.trim_end().split_at(1);
    Ok(match kind {
        "+" => Reply::Status,
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Integer(rest.parse()?),
        "$" => {
            let length: i64 = rest.parse()?;
            if length < 0 {
                Reply::Bulk(None)
            } else {
                let length = usize::try_from(length)?;
                ensure!(length <= MAX_REPLY_BYTES * 16, "bulk of {length} bytes");
                let mut data = vec![0; length + 2];
                stream.read_exact(&mut data).await?;
                data.truncate(length);
                Reply::Bulk(Some(data))
            }
        }
        "*" => {
            let count: i64 = rest.parse()?;
            if count < 0 {
                Reply::NullArray
            } else {
                let mut items = Vec::with_capacity(count.min(64) as usize);
                for _ in 0..count {
                    items.push(Box::pin(read_reply(stream)).await?);
                }
                Reply::Array(items)
            }
        }
        other => bail!("unexpected RESP type {other:?}"),
    })
}

/// One RESP connection for the setup and agreement steps.
struct Resp {
    stream: BufReader<TcpStream>,
    pending: Vec<u8>,
}

impl Resp {
    async fn connect(address: SocketAddr) -> anyhow::Result<Resp> {
        let stream = TcpStream::connect(address)
            .await
            .with_context(|| format!("connecting to Redis at {address}"))?;
        Ok(Resp { stream: BufReader::new(stream), pending: Vec::new() })
    }

    fn send(&mut self, parts: &[&str]) {
        self.pending.extend_from_slice(&resp_command(parts));
    }

    async fn flush(&mut self) -> anyhow::Result<()> {
        self.stream.get_mut().write_all(&self.pending).await?;
        self.pending.clear();
        Ok(())
    }

    async fn read_reply(&mut self) -> anyhow::Result<Reply> {
        match read_reply(&mut self.stream).await? {
            Reply::Error(message) => bail!("Redis: {message}"),
            reply => Ok(reply),
        }
    }

    async fn call(&mut self, parts: &[&str]) -> anyhow::Result<Reply> {
        self.send(parts);
        self.flush().await?;
        self.read_reply().await
    }
}

/// A tiny seeded generator (SplitMix64): reproducible prefix draws without a dependency.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}
