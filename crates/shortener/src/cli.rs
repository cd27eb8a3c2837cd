//! `blueprint shortener shorten|stats|load`: the service run in-process on the configured
//! database (a server may be running on it at the same time).

use std::io::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

use crate::core::Redirect;
use crate::long_url::{LongUrl, UrlPolicy};
use crate::service::{Caller, Service, ShortenRequest, rfc3339};
use crate::store::{Link, NewLink};

/// Most links one `load` run inserts.
pub const MAX_LOAD_LINKS: u64 = 100_000_000;
/// Most links per transaction of a load.
pub const MAX_LOAD_BATCH: usize = 100_000;

/// The subcommands of `blueprint shortener`.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ShortenerCommand {
    /// Shorten a URL and print its short URL.
    Shorten {
        /// The long URL.
        url: String,
        /// A custom code.
        #[arg(long)]
        alias: Option<String>,
        /// 301 or 302.
        #[arg(long)]
        redirect: Option<u16>,
        /// Print the link as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a link's click statistics.
    Stats {
        /// The code.
        code: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bulk-insert a test set of links (batched, one transaction per batch).
    Load {
        /// How many links.
        #[arg(long, default_value_t = 10_000)]
        links: u64,
        /// Links per transaction.
        #[arg(long, default_value_t = 10_000)]
        batch: usize,
        /// Write every inserted code to this file, one per line (for benchmarks).
        #[arg(long)]
        codes_out: Option<PathBuf>,
    },
}

/// Run `command` on `service`; `host` is what short URLs are printed with when no
/// `base_url` is configured.
pub async fn run(command: ShortenerCommand, service: &Service, host: &str) -> anyhow::Result<()> {
    match command {
        ShortenerCommand::Shorten { url, alias, redirect, json } => {
            let request = ShortenRequest { long_url: url, alias, redirect, ..Default::default() };
            let done =
                service.shorten(&request, &Caller::default(), None).await.context("shortening")?;
            let short_url = service.short_url(&done.link.code, Some(host));
            if json {
                let value = serde_json::json!({
                    "shortUrl": short_url, "code": done.link.code.as_str(),
                    "longUrl": done.link.long_url, "created": done.created,
                });
                println!("{value}");
            } else {
                println!("{short_url}");
            }
            Ok(())
        }
        ShortenerCommand::Stats { code, json } => {
            let stats = service.stats(&code).await.context("reading the statistics")?;
            let link = &stats.link;
            if json {
                let value = serde_json::json!({
                    "code": link.code.as_str(), "longUrl": link.long_url, "clicks": link.clicks,
                    "createdAt": rfc3339(link.created_at_ms), "daily": stats.daily,
                    "referrers": stats.referrers, "agents": stats.agents,
                });
                println!("{value}");
                return Ok(());
            }
            println!("{}  ->  {}", link.code, link.long_url);
            println!("clicks      {}", link.clicks);
            for (title, rows) in
                [("day", &stats.daily), ("referrer", &stats.referrers), ("agent", &stats.agents)]
            {
                for (name, clicks) in rows {
                    println!("{title:<11} {name:<30} {clicks}");
                }
            }
            Ok(())
        }
        ShortenerCommand::Load { links, batch, codes_out } => {
            load(service, links, batch, codes_out).await.map(|_| ())
        }
    }
}

/// What a load did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    /// Rows inserted.
    pub inserted: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Insert `links` links `https://load.example/<run>/<i>` in transactions of `batch`.
pub async fn load(
    service: &Service,
    links: u64,
    batch: usize,
    codes_out: Option<PathBuf>,
) -> anyhow::Result<LoadReport> {
    anyhow::ensure!((1..=MAX_LOAD_LINKS).contains(&links), "--links must be 1 to {MAX_LOAD_LINKS}");
    anyhow::ensure!((1..=MAX_LOAD_BATCH).contains(&batch), "--batch must be 1 to {MAX_LOAD_BATCH}");
    let mut out = match &codes_out {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => None,
    };
    let run = crate::code::base62_encode(u64::try_from(service.now_ms()).unwrap_or(0));
    let progress = ProgressBar::new(links);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} links {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let started = Instant::now();
    let mut inserted = 0;
    let mut next = 0u64;
    let policy = UrlPolicy::default();
    while next < links {
        let count = (links - next).min(batch as u64);
        let mut rows = Vec::with_capacity(count as usize);
        for i in next..next + count {
            let url = LongUrl::parse(&format!("https://load.example/{run}/{i}"), &policy, None)
                .context("building a test URL")?;
            let code = service.bulk_code(&url).context("making a code")?;
            rows.push(NewLink {
                link: Link {
                    code,
                    long_url: url.as_str().to_owned(),
                    created_at_ms: service.now_ms(),
                    expires_at_ms: None,
                    max_clicks: None,
                    clicks: 0,
                    redirect: Redirect::Permanent,
                    disabled: false,
                    api_key_id: 0,
                },
                plain: true,
            });
        }
        inserted += service.store().insert_bulk(&rows).await.context("inserting a batch")?;
        if let Some(out) = out.as_mut() {
            for row in &rows {
                writeln!(out, "{}", row.link.code).context("writing the codes")?;
            }
        }
        next += count;
        progress.set_position(next);
    }
    if let Some(mut out) = out {
        out.flush().context("writing the codes")?;
    }
    progress.finish_and_clear();
    let elapsed = started.elapsed();
    let rate = inserted as f64 / elapsed.as_secs_f64().max(1e-9);
    eprintln!("loaded {inserted} links in {:.1} s ({rate:.0} links/s)", elapsed.as_secs_f64());
    Ok(LoadReport { inserted, elapsed })
}
