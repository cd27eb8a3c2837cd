//! `blueprint ids new|decode|bench`: the clap arguments and their runner.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use crate::api::{DecodeResponse, IdKind, MAX_COUNT, parse_id};
use crate::clock::{SystemClock, TickerClock};
use crate::layout::LayoutSpec;
use crate::ring::{UidRing, UidRingConfig};
use crate::snowflake::{NodeId, Snowflake, SnowflakeConfig};
use crate::uuid7::{UlidGenerator, Uuid7Generator};

/// Longest `bench` run accepted.
const MAX_BENCH_SECONDS: u64 = 600;
/// Most `bench` threads accepted.
const MAX_BENCH_THREADS: usize = 256;

/// `blueprint ids ...`
#[derive(Debug, Args)]
pub struct IdArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: IdCommand,
}

/// The `id` subcommands.
#[derive(Debug, Subcommand)]
pub enum IdCommand {
    /// Print new IDs (one per line).
    New {
        /// snowflake, uuid7 or ulid (segment IDs need the service's store).
        #[arg(long, default_value = "snowflake")]
        kind: String,
        /// How many IDs.
        #[arg(long, short = 'n', default_value_t = 1)]
        count: usize,
        /// Snowflake datacenter ID (0..=31 in the default layout).
        #[arg(long, default_value_t = 0, env = "BLUEPRINT_IDGEN_DATACENTER")]
        datacenter: u64,
        /// Snowflake worker ID (0..=31 in the default layout).
        #[arg(long, default_value_t = 0, env = "BLUEPRINT_IDGEN_WORKER")]
        worker: u64,
    },
    /// Take a Snowflake ID (default layout) apart.
    Decode {
        /// The ID, decimal.
        id: String,
        /// Print JSON (the `/api/v1/ids/{id}/decode` body) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Measure generator throughput on this machine.
    Bench {
        /// Seconds per generator.
        #[arg(long, default_value_t = 2)]
        seconds: u64,
        /// Threads sharing each generator.
        #[arg(long, default_value_t = 1)]
        threads: usize,
    },
}

/// Run a parsed `blueprint ids` command.
pub fn run(args: IdArgs) -> anyhow::Result<()> {
    match args.command {
        IdCommand::New { kind, count, datacenter, worker } => {
            new_ids(&kind, count, NodeId { datacenter, worker })
        }
        IdCommand::Decode { id, json } => decode(&id, json),
        IdCommand::Bench { seconds, threads } => bench(seconds, threads),
    }
}

fn new_ids(kind: &str, count: usize, node: NodeId) -> anyhow::Result<()> {
    if !(1..=MAX_COUNT).contains(&count) {
        bail!("--count must be between 1 and {MAX_COUNT}");
    }
    let kind: IdKind = kind.parse()?;
    let mut lines = Vec::with_capacity(count);
    match kind {
        IdKind::Snowflake => {
            let config = SnowflakeConfig { node, ..SnowflakeConfig::default() };
            let generator =
                Snowflake::new(&config, SystemClock).context("configuring Snowflake")?;
            for _ in 0..count {
                lines.push(generator.next_id().context("issuing a Snowflake ID")?.to_string());
            }
        }
        IdKind::Uuid7 => {
            let generator = Uuid7Generator::new(SystemClock);
            lines.extend((0..count).map(|_| generator.next_uuid().to_string()));
        }
        IdKind::Ulid => {
            let generator = UlidGenerator::new(SystemClock);
            lines.extend((0..count).map(|_| generator.next_ulid().to_string()));
        }
        IdKind::Segment { biz_tag } => {
            bail!(
                "segment:{biz_tag} IDs come from the service's SQL store: use GET /api/v1/ids?kind=segment:{biz_tag}"
            )
        }
    }
    println!("{}", lines.join("\n"));
    Ok(())
}

fn decode(text: &str, json: bool) -> anyhow::Result<()> {
    let id = parse_id(text)?;
    let layout = LayoutSpec::snowflake()
        .validate(crate::clock::Clock::now_ms(&SystemClock))
        .context("validating the default layout")?;
    let decoded = layout.decode(id)?;
    let body = DecodeResponse::new(&layout, &decoded);
    if json {
        println!("{}", serde_json::to_string_pretty(&body).context("encoding JSON")?);
        return Ok(());
    }
    println!("id          {}", body.id);
    println!("timestamp   {} ({} ms)", body.timestamp, body.timestamp_ms);
    println!("datacenter  {}", body.datacenter);
    println!("worker      {}", body.worker);
    println!("sequence    {}", body.sequence);
    for field in &body.fields {
        println!("  {:<10} {:>2} bits  {}", field.name, field.bits, field.binary);
    }
    Ok(())
}

/// One ID's worth of work, shared by the bench threads.
type Generate = Arc<dyn Fn() + Send + Sync>;

/// Run `generate` on `threads` threads for `seconds`, return IDs per second.
fn measure(seconds: u64, threads: usize, generate: Generate) -> f64 {
    const BATCH: u64 = 1_024;
    let deadline = Duration::from_secs(seconds);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let generate = Arc::clone(&generate);
            std::thread::spawn(move || {
                let mut issued = 0u64;
                while started.elapsed() < deadline {
                    for _ in 0..BATCH {
                        generate();
                    }
                    issued += BATCH;
                }
                issued
            })
        })
        .collect();
    let issued: u64 = handles.into_iter().map(|handle| handle.join().unwrap_or(0)).sum();
    issued as f64 / started.elapsed().as_secs_f64()
}

fn bench(seconds: u64, threads: usize) -> anyhow::Result<()> {
    if !(1..=MAX_BENCH_SECONDS).contains(&seconds) || !(1..=MAX_BENCH_THREADS).contains(&threads) {
        bail!("--seconds must be 1..={MAX_BENCH_SECONDS} and --threads 1..={MAX_BENCH_THREADS}");
    }
    let snowflake = Arc::new(Snowflake::new(&SnowflakeConfig::default(), SystemClock)?);
    let uuid7 =
        Arc::new(Uuid7Generator::new(TickerClock::start().context("starting the ticker clock")?));
    let ring_config = UidRingConfig {
        layout: LayoutSpec {
            timestamp_bits: 31,
            datacenter_bits: 0,
            worker_bits: 8,
            sequence_bits: 24,
            ..LayoutSpec::uid_generator()
        },
        max_ahead_ticks: 3_600,
        ..UidRingConfig::default()
    };
    let ring = Arc::new(UidRing::new(&ring_config, SystemClock)?);
    let runs: Vec<(&str, Generate)> = vec![
        (
            "snowflake (1 worker, real clock)",
            Arc::new(move || {
                std::hint::black_box(snowflake.next_id().ok());
            }),
        ),
        (
            "uuid7 (monotonic)",
            Arc::new(move || {
                std::hint::black_box(uuid7.next_uuid());
            }),
        ),
        (
            "uid ring take (24-bit sequence)",
            Arc::new(move || {
                std::hint::black_box(ring.take().ok());
            }),
        ),
    ];
    println!("{threads} thread(s), {seconds} s each");
    for (name, generate) in runs {
        let rate = measure(seconds, threads, generate);
        println!("{name:<34} {:>10.3} M IDs/s", rate / 1e6);
    }
    println!("(Snowflake's limit with 12 sequence bits: 4.096 M IDs/s per worker)");
    Ok(())
}
