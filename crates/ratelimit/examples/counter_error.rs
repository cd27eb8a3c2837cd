//! Measures the sliding window counter's wrong decisions against the exact sliding log
//! on a replayed synthetic trace (≥ 1M requests by default).
//!
//! `cargo run --release -p blueprint-ratelimit --example counter_error -- [requests] [keys] [quiet_requests] [quiet_keys]`
//!
//! The typical and stress traces use `requests` over `keys`; the quiet trace (built to
//! match Cloudflare's conditions: many sources, most far below the limit) uses its own
//! size, 4 M requests over 270 000 keys by default, like Cloudflare's 270 000 sources.
#![allow(clippy::unwrap_used)]

use blueprint_ratelimit::core::measure::{Counting, Mix, TraceConfig, counter_vs_log};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let requests = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2_000_000);
    let keys = args.next().map(|a| a.parse()).transpose()?.unwrap_or(2_000);
    let quiet_requests = args.next().map(|a| a.parse()).transpose()?.unwrap_or(4_000_000);
    let quiet_keys = args.next().map(|a| a.parse()).transpose()?.unwrap_or(270_000);
    for (mix, counting) in [
        (Mix::Typical, Counting::All),
        (Mix::Typical, Counting::Admitted),
        (Mix::Stress, Counting::All),
        (Mix::Stress, Counting::Admitted),
        (Mix::Quiet, Counting::All),
        (Mix::Quiet, Counting::Admitted),
    ] {
        let (requests, keys) =
            if mix == Mix::Quiet { (quiet_requests, quiet_keys) } else { (requests, keys) };
        let cfg = TraceConfig { requests, keys, counting, mix, ..TraceConfig::default() };
        let r = counter_vs_log(&cfg)?;
        println!(
            "mix={mix:?} counting={counting:?}: {} requests over {} keys, limit {}/{} s: {} admitted, \
             {} wrongly allowed, {} wrongly denied: {:.4}% wrong (Cloudflare: 0.003%); seed {:#x}, mix: {}",
            r.requests,
            cfg.keys,
            cfg.limit,
            cfg.window_ns / 1_000_000_000,
            r.admitted,
            r.wrongly_allowed,
            r.wrongly_denied,
            r.wrong_percent(),
            cfg.seed,
            mix.describe()
        );
    }
    Ok(())
}
