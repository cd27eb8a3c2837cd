//! Measures the sliding window counter's wrong decisions against the exact sliding log
//! on a replayed synthetic trace (≥ 1M requests by default).
//!
//! `cargo run --release -p blueprint-ratelimit --example counter_error -- [requests] [keys]`
#![allow(clippy::unwrap_used)]

use blueprint_ratelimit::core::measure::{Counting, Mix, TraceConfig, counter_vs_log};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let requests = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2_000_000);
    let keys = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2_000);
    for (mix, counting) in [
        (Mix::Typical, Counting::All),
        (Mix::Typical, Counting::Admitted),
        (Mix::Stress, Counting::All),
        (Mix::Stress, Counting::Admitted),
    ] {
        let cfg = TraceConfig { requests, keys, counting, mix, ..TraceConfig::default() };
        let r = counter_vs_log(&cfg)?;
        println!(
            "mix={mix:?} counting={counting:?}: {} requests over {} keys, limit {}/{} s: {} admitted, \
             {} wrongly allowed, {} wrongly denied: {:.4}% wrong (Cloudflare: 0.003%)",
            r.requests,
            cfg.keys,
            cfg.limit,
            cfg.window_ns / 1_000_000_000,
            r.admitted,
            r.wrongly_allowed,
            r.wrongly_denied,
            r.wrong_percent()
        );
    }
    Ok(())
}
