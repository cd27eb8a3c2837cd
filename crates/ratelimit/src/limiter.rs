//! The engine: rules + a store + a clock → one decision per request.
//!
//! Both the tower layer and the `/api/v1/ratelimit/check` handler call
//! [`RateLimiter::check`], so they take the same decisions.

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::clock::Clock;
use crate::core::{Algorithm, AnyState, Decision, HITS_MAX, Nanos};
use crate::local::LocalStore;
use crate::redis_store::{RedisLimit, RedisStore};
use crate::rules::{Descriptor, MatchedLimit, Rule, RuleSet, UnknownDomain};

/// What to do when the store (Redis) cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailPolicy {
    /// Allow the request: availability over protection (Lyft's default).
    Open,
    /// Deny the request with 429: protection over availability.
    Closed,
}

/// Where counters live.
#[derive(Debug)]
pub enum Backend {
    /// In this process.
    Local(LocalStore<String, AnyState>),
    /// In Redis, shared by every server; `fail` applies when it cannot answer.
    Redis {
        /// The store (boxed: it is much larger than the local variant's handle).
        store: Box<RedisStore>,
        /// The policy when it fails.
        fail: FailPolicy,
    },
}

/// One matched limit's verdict.
#[derive(Debug, Clone)]
pub struct LimitStatus {
    /// The rule's id (`domain.key_value...`), also the metric label.
    pub rule_id: String,
    /// Index of the request descriptor it matched.
    pub descriptor_index: usize,
    /// Its decision (`None` for `unlimited` rules, which always allow).
    pub decision: Option<Decision>,
    /// Evaluated but not enforced.
    pub shadow: bool,
    /// The rule's period in seconds (for `RateLimit-Policy`), 0 when unlimited.
    pub window_seconds: u64,
    /// The rule itself (its name, unit and spec, for APIs that echo the limit).
    pub rule: Arc<Rule>,
}

/// The decision for a whole request.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// May the request proceed (after [`Decision::wait_ns`] of `summary`)?
    pub allowed: bool,
    /// The most restrictive enforced limit's decision, `None` when no enforced limit
    /// matched (no headers then).
    pub summary: Option<Decision>,
    /// Window of the limit behind `summary`, in seconds.
    pub window_seconds: u64,
    /// Every matched limit.
    pub statuses: Vec<LimitStatus>,
    /// The store failed and the fail policy decided.
    pub store_failed: bool,
}

/// Why a check could not be evaluated at all (a 4xx for the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// No rules for this domain.
    #[error(transparent)]
    UnknownDomain(#[from] UnknownDomain),
    /// `hits` above [`HITS_MAX`].
    #[error("hits = {hits} exceeds the maximum {max}")]
    TooManyHits {
        /// Asked.
        hits: u64,
        /// Allowed.
        max: u64,
    },
}

/// Rules, store and clock.
pub struct RateLimiter {
    rules: Arc<ArcSwap<RuleSet>>,
    backend: Backend,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("backend", &self.backend).finish()
    }
}

impl RateLimiter {
    /// An engine over shared, hot-swappable rules.
    pub fn new(rules: Arc<ArcSwap<RuleSet>>, backend: Backend, clock: Arc<dyn Clock>) -> Self {
        Self { rules, backend, clock }
    }

    /// The rules handle (swap it to change rules).
    pub fn rules(&self) -> &Arc<ArcSwap<RuleSet>> {
        &self.rules
    }

    /// The store's name and target for readiness probes: `None` for the local store
    /// (nothing to reach), `Some(target)` for Redis.
    pub fn remote_store(&self) -> Option<String> {
        match &self.backend {
            Backend::Local(_) => None,
            Backend::Redis { store, .. } => Some(store.target()),
        }
    }

    /// Pings the store (always `Ok` for the local one).
    ///
    /// # Errors
    /// The Redis error, rendered, when Redis does not answer.
    pub async fn ping_store(&self) -> Result<(), String> {
        match &self.backend {
            Backend::Local(_) => Ok(()),
            Backend::Redis { store, .. } => store.ping().await.map_err(|e| e.to_string()),
        }
    }

    /// Decides for `hits` requests described by `descriptors` in `domain`. `hits` 0
    /// reports without consuming. Never fails because of the store: the fail policy
    /// decides then.
    ///
    /// # Errors
    /// [`CheckError`] for an unknown domain or absurd `hits`.
    pub async fn check(
        &self,
        domain: &str,
        descriptors: &[Descriptor],
        hits: u64,
    ) -> Result<Outcome, CheckError> {
        if hits > HITS_MAX {
            return Err(CheckError::TooManyHits { hits, max: HITS_MAX });
        }
        let matched = self.rules.load().matches(domain, descriptors)?;
        let limited: Vec<&MatchedLimit> =
            matched.iter().filter(|m| m.rule.limiter.is_some()).collect();
        let (decisions, store_failed) = match &self.backend {
            Backend::Local(store) => (self.check_local(store, &limited, hits), false),
            Backend::Redis { store, fail } => {
                let limits: Vec<RedisLimit<'_>> = limited
                    .iter()
                    .filter_map(|m| {
                        Some(RedisLimit {
                            key: &m.key,
                            limiter: m.rule.limiter.as_ref()?,
                            shadow: m.rule.shadow_mode,
                        })
                    })
                    .collect();
                match store.check(&limits, hits).await {
                    Ok(d) => (d, false),
                    Err(error) => {
                        metrics::counter!("ratelimit_store_errors_total", "domain" => domain.to_owned(),
                            "policy" => if *fail == FailPolicy::Open { "open" } else { "closed" })
                        .increment(1);
                        tracing::warn!(%error, domain, policy = ?fail, "rate limit store failed; applying fail policy");
                        return Ok(fail_outcome(&matched, *fail));
                    }
                }
            }
        };
        Ok(summarize(domain, &matched, decisions, store_failed))
    }

    fn check_local(
        &self,
        store: &LocalStore<String, AnyState>,
        limited: &[&MatchedLimit],
        hits: u64,
    ) -> Vec<Decision> {
        let now: Nanos = self.clock.now();
        let limiter = |m: &MatchedLimit| m.rule.limiter.clone();
        // All-or-nothing like the Redis script: peek everything, consume only if every
        // enforced limit admits.
        let peeks: Vec<Decision> = limited
            .iter()
            .filter_map(|m| Some(store.peek(&limiter(m)?, m.key.as_str(), now, hits)))
            .collect();
        let blocked = limited.iter().zip(&peeks).any(|(m, d)| !d.allowed && !m.rule.shadow_mode);
        if blocked || hits == 0 {
            return peeks;
        }
        limited
            .iter()
            .filter_map(|m| Some(store.check(&limiter(m)?, m.key.as_str(), now, hits)))
            .collect()
    }
}

fn window_seconds(m: &MatchedLimit) -> u64 {
    m.rule.spec.map_or(0, |s| s.period_ns / crate::core::NANOS_PER_SECOND)
}

fn summarize(
    domain: &str,
    matched: &[MatchedLimit],
    decisions: Vec<Decision>,
    store_failed: bool,
) -> Outcome {
    let mut decisions = decisions.into_iter();
    let mut statuses = Vec::with_capacity(matched.len());
    for m in matched {
        let decision = if m.rule.limiter.is_some() { decisions.next() } else { None };
        let outcome = match decision {
            Some(d) if !d.allowed && m.rule.shadow_mode => "shadow_denied",
            Some(d) if !d.allowed => "denied",
            _ => "allowed",
        };
        metrics::counter!("ratelimit_decisions_total", "domain" => domain.to_owned(),
            "rule" => m.rule.id.clone(), "outcome" => outcome)
        .increment(1);
        statuses.push(LimitStatus {
            rule_id: m.rule.id.clone(),
            descriptor_index: m.descriptor_index,
            decision,
            shadow: m.rule.shadow_mode,
            window_seconds: window_seconds(m),
            rule: Arc::clone(&m.rule),
        });
    }
    let enforced = || {
        statuses
            .iter()
            .filter(|s| !s.shadow)
            .filter_map(|s| s.decision.map(|d| (d, s.window_seconds)))
    };
    let denied = enforced().filter(|(d, _)| !d.allowed).max_by_key(|(d, _)| d.retry_after_ns);
    let (allowed, summary) = match denied {
        Some(d) => (false, Some(d)),
        None => {
            let tightest = enforced().min_by_key(|(d, _)| d.remaining);
            let wait = enforced().map(|(d, _)| d.wait_ns).max().unwrap_or(0);
            (true, tightest.map(|(d, w)| (Decision { wait_ns: wait, ..d }, w)))
        }
    };
    Outcome {
        allowed,
        summary: summary.map(|(d, _)| d),
        window_seconds: summary.map_or(0, |(_, w)| w),
        statuses,
        store_failed,
    }
}

/// The outcome when the store failed: every limit decided by the policy.
fn fail_outcome(matched: &[MatchedLimit], fail: FailPolicy) -> Outcome {
    let allowed = fail == FailPolicy::Open
        || matched.iter().all(|m| m.rule.limiter.is_none() || m.rule.shadow_mode);
    let tightest = matched
        .iter()
        .filter(|m| !m.rule.shadow_mode)
        .find_map(|m| Some((m.rule.limiter.as_ref()?.limit(), window_seconds(m))));
    let summary = tightest.map(|(limit, window)| {
        let retry = window.max(1) * crate::core::NANOS_PER_SECOND;
        (
            Decision {
                allowed,
                limit,
                remaining: 0,
                reset_after_ns: retry,
                retry_after_ns: if allowed { 0 } else { retry },
                wait_ns: 0,
            },
            window,
        )
    });
    Outcome {
        allowed,
        summary: summary.map(|(d, _)| d),
        window_seconds: summary.map_or(0, |(_, w)| w),
        statuses: Vec::new(),
        store_failed: true,
    }
}
