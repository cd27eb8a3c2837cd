//! Rules: Lyft ratelimit's YAML configuration, compiled into a descriptor tree.
//!
//! One file per domain, as in `envoyproxy/ratelimit`:
//!
//! ```yaml
//! domain: api
//! descriptors:
//!   - key: remote_address          # any value: one counter per client IP
//!     rate_limit: { unit: minute, requests_per_unit: 100 }
//!   - key: api_key
//!     value: free-tier             # this value only
//!     rate_limit: { unit: second, requests_per_unit: 5, algorithm: token_bucket, burst: 5 }
//!     shadow_mode: true            # evaluate and count, never deny
//!   - key: route
//!     value: /api/v1/login
//!     descriptors:                 # nested: (route=/api/v1/login, method=POST)
//!       - key: method
//!         value: POST
//!         rate_limit: { unit: minute, requests_per_unit: 5, name: login, replaces: [{ name: ip }] }
//! ```
//!
//! Lyft's fields (`key`, `value` with an optional trailing `*` for prefixes,
//! `rate_limit: {unit, requests_per_unit, unlimited, name, replaces}`, `shadow_mode`,
//! `detailed_metric`, `value_to_metric`, nested `descriptors`) mean what they mean
//! there; ours are `algorithm` (default `fixed_window`, Lyft's) and `burst` (a soft
//! limit for the bucket algorithms). Units: second, minute, hour, day, month (30 days),
//! year (365 days). Every error names the file and line.
//!
//! Matching follows Lyft: each request descriptor is a list of entries walked down the
//! tree, preferring an exact `key=value` node, then a prefix, then a key-only node; the
//! limit of the node reached by the *last* entry applies. Then a matched limit that
//! `replaces` a name drops the matched limits of that name.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::core::{AlgorithmKind, AnyLimiter, LimitSpec, NANOS_PER_SECOND, Nanos};

/// Most descriptor nodes in one domain: bounds memory and load time of a rules file.
pub const MAX_NODES_PER_DOMAIN: usize = 100_000;

/// Deepest nesting of `descriptors` accepted (Lyft has no limit; 16 is far beyond use).
pub const MAX_DEPTH: usize = 16;

/// The largest rules file read (a 10 MB YAML file is a mistake, not a config).
pub const MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;

/// One entry of a request descriptor: `("remote_address", "10.0.0.1")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DescriptorEntry {
    /// The descriptor key, e.g. `remote_address`.
    pub key: String,
    /// Its value for this request.
    pub value: String,
}

/// A request descriptor: an ordered list of entries (Lyft/Envoy's `RateLimitDescriptor`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct Descriptor {
    /// Entries, outermost first.
    pub entries: Vec<DescriptorEntry>,
}

impl Descriptor {
    /// A descriptor from `(key, value)` pairs.
    pub fn new<K: Into<String>, V: Into<String>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            entries: entries
                .into_iter()
                .map(|(k, v)| DescriptorEntry { key: k.into(), value: v.into() })
                .collect(),
        }
    }
}

/// Lyft's time units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// One second.
    Second,
    /// 60 seconds.
    Minute,
    /// 3600 seconds.
    Hour,
    /// 86 400 seconds.
    Day,
    /// 30 days (Lyft's definition).
    Month,
    /// 365 days (Lyft's definition).
    Year,
}

impl Unit {
    /// The unit's length in nanoseconds.
    pub fn nanos(self) -> Nanos {
        let seconds = match self {
            Unit::Second => 1,
            Unit::Minute => 60,
            Unit::Hour => 3600,
            Unit::Day => 86_400,
            Unit::Month => 30 * 86_400,
            Unit::Year => 365 * 86_400,
        };
        seconds * NANOS_PER_SECOND
    }
}

impl<'de> Deserialize<'de> for Unit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Lyft upper-cases units before parsing: accept any case.
        let s = String::deserialize(d)?;
        Ok(match s.to_ascii_lowercase().as_str() {
            "second" => Unit::Second,
            "minute" => Unit::Minute,
            "hour" => Unit::Hour,
            "day" => Unit::Day,
            "month" => Unit::Month,
            "year" => Unit::Year,
            _ => {
                return Err(serde::de::Error::custom(format!(
                    "unknown unit {s:?}, expected one of second, minute, hour, day, month, year"
                )));
            }
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(try_from = "RawConfigFields")]
struct RawConfig(RawConfigFields);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfigFields {
    domain: String,
    #[serde(default)]
    descriptors: Vec<RawDescriptor>,
}

/// Whole-file checks, inside deserialization so that errors carry a line.
impl TryFrom<RawConfigFields> for RawConfig {
    type Error = String;

    fn try_from(c: RawConfigFields) -> Result<Self, String> {
        if c.domain.is_empty() {
            return Err("domain must not be empty".into());
        }
        let mut seen = std::collections::HashSet::new();
        for d in &c.descriptors {
            if !seen.insert((&d.0.key, &d.0.value)) {
                return Err(format!(
                    "duplicate top-level descriptor key {:?} value {:?}",
                    d.0.key,
                    d.0.value.as_deref().unwrap_or("")
                ));
            }
        }
        Ok(RawConfig(c))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawDescriptorFields")]
struct RawDescriptor(RawDescriptorFields);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDescriptorFields {
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    rate_limit: Option<RawRateLimit>,
    #[serde(default)]
    descriptors: Vec<RawDescriptor>,
    #[serde(default)]
    shadow_mode: bool,
    #[serde(default)]
    #[allow(dead_code)] // accepted for Lyft compatibility: metrics are always per rule here
    detailed_metric: bool,
    #[serde(default)]
    #[allow(dead_code)] // accepted for Lyft compatibility
    value_to_metric: bool,
}

/// Validation that can be done on one descriptor alone runs inside deserialization, so
/// the YAML parser attaches the line and column to the error.
impl TryFrom<RawDescriptorFields> for RawDescriptor {
    type Error = String;

    fn try_from(d: RawDescriptorFields) -> Result<Self, String> {
        if d.key.is_empty() {
            return Err("descriptor key must not be empty".into());
        }
        let mut seen = std::collections::HashSet::new();
        for child in &d.descriptors {
            let id = (&child.0.key, &child.0.value);
            if !seen.insert(id) {
                return Err(format!(
                    "duplicate descriptor key {:?} value {:?} under {:?}",
                    child.0.key,
                    child.0.value.as_deref().unwrap_or(""),
                    d.key
                ));
            }
        }
        if let Some(rl) = &d.rate_limit {
            rl.spec().map_err(|e| format!("descriptor {:?}: {e}", d.key))?;
        }
        Ok(RawDescriptor(d))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    #[serde(default)]
    unit: Option<Unit>,
    #[serde(default)]
    requests_per_unit: Option<u64>,
    #[serde(default)]
    unlimited: bool,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    replaces: Vec<RawReplace>,
    #[serde(default)]
    algorithm: Option<AlgorithmKind>,
    #[serde(default)]
    burst: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReplace {
    name: String,
}

impl RawRateLimit {
    /// The limit, or `None` for `unlimited`; an error explains what is wrong.
    fn spec(&self) -> Result<Option<(LimitSpec, AnyLimiter, Unit)>, String> {
        if self.unlimited {
            if self.requests_per_unit.is_some() || self.unit.is_some() {
                return Err("unlimited: true takes no unit or requests_per_unit".into());
            }
            return Ok(None);
        }
        let unit = self.unit.ok_or("rate_limit needs a unit")?;
        let rpu = self.requests_per_unit.ok_or("rate_limit needs requests_per_unit")?;
        let spec = LimitSpec {
            algorithm: self.algorithm.unwrap_or_default(),
            limit: rpu,
            period_ns: unit.nanos(),
            burst: self.burst,
        };
        let limiter = spec.build().map_err(|e| e.to_string())?;
        Ok(Some((spec, limiter, unit)))
    }
}

/// A compiled rate-limit rule: one `rate_limit` block of the tree.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Where it is: `domain.key_value.key2`; the stable prefix of its counter keys and
    /// its metric label.
    pub id: String,
    /// The limit, `None` when `unlimited: true`.
    pub spec: Option<LimitSpec>,
    /// The built algorithm, `None` when unlimited.
    pub limiter: Option<AnyLimiter>,
    /// The Lyft unit it was written with (for headers' policy strings).
    pub unit: Option<Unit>,
    /// Lyft `name`, the target of other rules' `replaces`.
    pub name: Option<String>,
    /// Names of the limits this one replaces when both match.
    pub replaces: Vec<String>,
    /// Evaluate and count, but never deny.
    pub shadow_mode: bool,
}

#[derive(Debug, Default)]
struct Node {
    rule: Option<Arc<Rule>>,
    children: Children,
}

#[derive(Debug, Default)]
struct Children {
    /// `key` → `value` → node.
    exact: HashMap<String, HashMap<String, Node>>,
    /// `key` → [(value prefix, node)], longest prefix first.
    prefix: HashMap<String, Vec<(String, Node)>>,
    /// `key` → node matching any value.
    any: HashMap<String, Node>,
}

impl Children {
    fn find(&self, entry: &DescriptorEntry) -> Option<&Node> {
        if let Some(node) = self.exact.get(&entry.key).and_then(|m| m.get(&entry.value)) {
            return Some(node);
        }
        if let Some((_, node)) = self
            .prefix
            .get(&entry.key)
            .and_then(|list| list.iter().find(|(p, _)| entry.value.starts_with(p.as_str())))
        {
            return Some(node);
        }
        self.any.get(&entry.key)
    }
}

/// One domain's rules.
#[derive(Debug, Default)]
pub struct Domain {
    name: String,
    root: Children,
    rules: usize,
}

impl Domain {
    /// The domain's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many `rate_limit` blocks it has.
    pub fn rule_count(&self) -> usize {
        self.rules
    }
}

/// A limit that matched one request descriptor.
#[derive(Debug, Clone)]
pub struct MatchedLimit {
    /// Index of the request descriptor it matched.
    pub descriptor_index: usize,
    /// The rule.
    pub rule: Arc<Rule>,
    /// The counter key: the rule's id plus the request's entry values.
    pub key: String,
}

/// All domains, as loaded from a file or a directory. Swapped whole on reload.
#[derive(Debug, Default)]
pub struct RuleSet {
    domains: HashMap<String, Domain>,
}

/// Why rules could not be loaded or a check could not be matched.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A YAML or validation error at a line.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when the parser did not say).
        line: usize,
        /// 1-based column (0 when the parser did not say).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Two files declare the same domain.
    #[error("{path}: domain {domain:?} is already defined in {first}")]
    DuplicateDomain {
        /// The second file.
        path: PathBuf,
        /// The domain.
        domain: String,
        /// The first file.
        first: PathBuf,
    },
    /// A file larger than [`MAX_FILE_BYTES`] or a domain above [`MAX_NODES_PER_DOMAIN`]
    /// or [`MAX_DEPTH`].
    #[error("{path}: {message}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What exceeded which limit.
        message: String,
    },
}

/// A check named a domain no rules file defines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rate limit domain {domain:?}")]
pub struct UnknownDomain {
    /// The domain asked for.
    pub domain: String,
}

impl RuleSet {
    /// Parses one domain's YAML; `path` is only used in error messages.
    ///
    /// # Errors
    /// [`RulesError::Invalid`] with the line of the problem.
    pub fn parse_domain(path: &Path, text: &str) -> Result<Domain, RulesError> {
        let raw: RawConfig = serde_yaml_ng::from_str(text).map_err(|e| {
            let message = strip_location(&e.to_string());
            let (line, column) = match e.location() {
                Some(l) => (l.line(), l.column()),
                // Whole-file checks run at the document root, where the parser has no
                // position: point at the second occurrence of the duplicated key.
                None => (duplicate_line(text, &message), 1),
            };
            RulesError::Invalid { path: path.to_owned(), line, column, message }
        })?;
        let RawConfig(raw) = raw;
        let mut domain = Domain { name: raw.domain.clone(), ..Domain::default() };
        let mut nodes = 0;
        build_children(
            &raw.domain,
            &raw.descriptors,
            &mut domain.root,
            1,
            &mut nodes,
            &mut domain.rules,
        )
        .map_err(|message| RulesError::TooLarge { path: path.to_owned(), message })?;
        Ok(domain)
    }

    /// Loads a file, or every `*.yaml` / `*.yml` file of a directory (one domain each).
    ///
    /// # Errors
    /// The first [`RulesError`] met.
    pub fn load(path: &Path) -> Result<RuleSet, RulesError> {
        let mut set = RuleSet::default();
        let mut origin: HashMap<String, PathBuf> = HashMap::new();
        for file in rule_files(path)? {
            let text = read_limited(&file)?;
            let domain = Self::parse_domain(&file, &text)?;
            if let Some(first) = origin.get(domain.name()) {
                return Err(RulesError::DuplicateDomain {
                    path: file,
                    domain: domain.name,
                    first: first.clone(),
                });
            }
            origin.insert(domain.name.clone(), file);
            set.domains.insert(domain.name.clone(), domain);
        }
        Ok(set)
    }

    /// A set made of the given domains (for tests and embedding).
    pub fn from_domains(domains: impl IntoIterator<Item = Domain>) -> Self {
        Self { domains: domains.into_iter().map(|d| (d.name.clone(), d)).collect() }
    }

    /// The domain named `name`.
    pub fn domain(&self, name: &str) -> Option<&Domain> {
        self.domains.get(name)
    }

    /// Domain names, unsorted.
    pub fn domain_names(&self) -> impl Iterator<Item = &str> {
        self.domains.keys().map(String::as_str)
    }

    /// The limits matching each request descriptor, `replaces` applied. Unmatched
    /// descriptors contribute nothing; `unlimited` rules are returned (they always allow).
    ///
    /// # Errors
    /// [`UnknownDomain`] when no rules define `domain`.
    pub fn matches(
        &self,
        domain: &str,
        descriptors: &[Descriptor],
    ) -> Result<Vec<MatchedLimit>, UnknownDomain> {
        let d =
            self.domains.get(domain).ok_or_else(|| UnknownDomain { domain: domain.to_owned() })?;
        let mut out = Vec::new();
        for (index, descriptor) in descriptors.iter().enumerate() {
            if let Some(m) = match_one(d, descriptor, index) {
                out.push(m);
            }
        }
        let replaced: Vec<String> =
            out.iter().flat_map(|m| m.rule.replaces.iter().cloned()).collect();
        if !replaced.is_empty() {
            out.retain(|m| m.rule.name.as_ref().is_none_or(|n| !replaced.contains(n)));
        }
        Ok(out)
    }
}

fn match_one(domain: &Domain, descriptor: &Descriptor, index: usize) -> Option<MatchedLimit> {
    let mut children = &domain.root;
    let last = descriptor.entries.len().checked_sub(1)?;
    for (i, entry) in descriptor.entries.iter().enumerate() {
        let node = children.find(entry)?;
        if i == last {
            let rule = node.rule.clone()?;
            let mut key = rule.id.clone();
            for e in &descriptor.entries {
                key.push('|');
                key.push_str(&e.key);
                key.push('=');
                key.push_str(&e.value);
            }
            return Some(MatchedLimit { descriptor_index: index, rule, key });
        }
        children = &node.children;
    }
    None
}

fn build_children(
    path: &str,
    raw: &[RawDescriptor],
    into: &mut Children,
    depth: usize,
    nodes: &mut usize,
    rules: &mut usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("descriptors nested deeper than {MAX_DEPTH} at {path}"));
    }
    for RawDescriptor(d) in raw {
        *nodes += 1;
        if *nodes > MAX_NODES_PER_DOMAIN {
            return Err(format!("more than {MAX_NODES_PER_DOMAIN} descriptors"));
        }
        let id = match &d.value {
            Some(v) => format!("{path}.{}_{v}", d.key),
            None => format!("{path}.{}", d.key),
        };
        let mut node = Node::default();
        if let Some(rl) = &d.rate_limit {
            // Already validated in `TryFrom`; a failure here is impossible but harmless.
            let built = rl.spec()?;
            *rules += 1;
            node.rule = Some(Arc::new(Rule {
                id: id.clone(),
                spec: built.as_ref().map(|b| b.0),
                limiter: built.as_ref().map(|b| b.1.clone()),
                unit: built.as_ref().map(|b| b.2),
                name: rl.name.clone(),
                replaces: rl.replaces.iter().map(|r| r.name.clone()).collect(),
                shadow_mode: d.shadow_mode,
            }));
        }
        build_children(&id, &d.descriptors, &mut node.children, depth + 1, nodes, rules)?;
        match d.value.as_deref() {
            None | Some("") => {
                into.any.insert(d.key.clone(), node);
            }
            Some(v) if v.ends_with('*') => {
                let list = into.prefix.entry(d.key.clone()).or_default();
                list.push((v.trim_end_matches('*').to_owned(), node));
                list.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
            }
            Some(v) => {
                into.exact.entry(d.key.clone()).or_default().insert(v.to_owned(), node);
            }
        }
    }
    Ok(())
}

/// The line (1-based) of the second `key: <k>` for a "duplicate top-level descriptor key
/// \"k\"" message, or 0.
fn duplicate_line(text: &str, message: &str) -> usize {
    let Some(key) = message
        .strip_prefix("duplicate top-level descriptor key \"")
        .and_then(|rest| rest.split('"').next())
    else {
        return 0;
    };
    let is_key_line = |line: &str| {
        let line = line.trim_start().trim_start_matches("- ").trim();
        line.strip_prefix("key:").map(|v| v.trim().trim_matches(['"', '\''])) == Some(key)
    };
    text.lines().enumerate().filter(|(_, l)| is_key_line(l)).nth(1).map_or(0, |(i, _)| i + 1)
}

/// serde_yaml_ng appends " at line L column C"; we print the location first instead.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// The rule files at `path`: itself, or its `*.yaml`/`*.yml` entries sorted by name.
pub fn rule_files(path: &Path) -> Result<Vec<PathBuf>, RulesError> {
    let io = |source| RulesError::Io { path: path.to_owned(), source };
    if !std::fs::metadata(path).map_err(io)?.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    Ok(files)
}

fn read_limited(file: &Path) -> Result<String, RulesError> {
    let io = |source| RulesError::Io { path: file.to_owned(), source };
    let len = std::fs::metadata(file).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(RulesError::TooLarge {
            path: file.to_owned(),
            message: format!("{len} bytes exceeds the {MAX_FILE_BYTES}-byte limit"),
        });
    }
    std::fs::read_to_string(file).map_err(io)
}
