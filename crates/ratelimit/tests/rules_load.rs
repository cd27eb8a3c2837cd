//! Rules: Lyft-compatible YAML, errors with file and line, matching semantics.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;

use blueprint_ratelimit::core::AlgorithmKind;
use blueprint_ratelimit::rules::{Descriptor, RuleSet, RulesError};

const LYFT: &str = r#"
domain: api
descriptors:
  - key: remote_address
    rate_limit:
      unit: minute
      requests_per_unit: 100
      name: ip
  - key: api_key
    value: free-tier
    rate_limit: { unit: SECOND, requests_per_unit: 5, algorithm: token_bucket, burst: 5 }
    shadow_mode: true
  - key: api_key
    value: partner-*
    rate_limit: { unlimited: true }
  - key: route
    value: /api/v1/login
    descriptors:
      - key: method
        value: POST
        detailed_metric: true
        rate_limit:
          unit: minute
          requests_per_unit: 5
          replaces:
            - name: ip
"#;

fn parse(text: &str) -> Result<RuleSet, RulesError> {
    Ok(RuleSet::from_domains([RuleSet::parse_domain(Path::new("rules.yaml"), text)?]))
}

fn line_of(err: RulesError) -> (usize, String) {
    match err {
        RulesError::Invalid { line, message, .. } => (line, message),
        other => panic!("expected Invalid, got {other}"),
    }
}

#[test]
fn a_lyft_config_loads_and_matches() {
    let set = parse(LYFT).unwrap();
    assert_eq!(set.domain("api").unwrap().rule_count(), 4);
    let ip = Descriptor::new([("remote_address", "10.0.0.1")]);
    let m = set.matches("api", std::slice::from_ref(&ip)).unwrap();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].key, "api.remote_address|remote_address=10.0.0.1");
    assert_eq!(m[0].rule.spec.unwrap().limit, 100);
    assert_eq!(m[0].rule.spec.unwrap().algorithm, AlgorithmKind::FixedWindow);

    let free = Descriptor::new([("api_key", "free-tier")]);
    let m = set.matches("api", &[free]).unwrap();
    assert!(m[0].rule.shadow_mode);
    assert_eq!(m[0].rule.spec.unwrap().algorithm, AlgorithmKind::TokenBucket);

    let partner = Descriptor::new([("api_key", "partner-acme")]);
    let m = set.matches("api", &[partner]).unwrap();
    assert!(m[0].rule.limiter.is_none(), "prefix match on an unlimited rule");

    let unknown_key = Descriptor::new([("api_key", "other")]);
    assert!(set.matches("api", &[unknown_key]).unwrap().is_empty());
}

#[test]
fn nested_descriptors_match_only_at_full_depth_and_replace_by_name() {
    let set = parse(LYFT).unwrap();
    let login = Descriptor::new([("route", "/api/v1/login"), ("method", "POST")]);
    let ip = Descriptor::new([("remote_address", "10.0.0.1")]);
    let m = set.matches("api", &[ip.clone(), login]).unwrap();
    assert_eq!(m.len(), 1, "the login limit replaces the one named ip");
    assert_eq!(m[0].descriptor_index, 1);
    assert_eq!(m[0].rule.spec.unwrap().limit, 5);

    let route_only = Descriptor::new([("route", "/api/v1/login")]);
    let get = Descriptor::new([("route", "/api/v1/login"), ("method", "GET")]);
    let m = set.matches("api", &[ip, route_only, get]).unwrap();
    assert_eq!(m.len(), 1, "no limit on the intermediate node nor on GET");
}

#[test]
fn an_unknown_domain_is_named() {
    let set = parse(LYFT).unwrap();
    let err = set.matches("nope", &[]).unwrap_err();
    assert_eq!(err.to_string(), "unknown rate limit domain \"nope\"");
}

#[test]
fn an_unknown_unit_is_rejected_with_its_line() {
    let text = "domain: d\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: fortnight\n      requests_per_unit: 1\n";
    let (line, message) = line_of(parse(text).unwrap_err());
    assert_eq!(line, 5, "{message}");
    assert!(message.contains("unknown unit \"fortnight\""), "{message}");
}

#[test]
fn a_negative_rate_is_rejected_with_its_line() {
    let text = "domain: d\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: second\n      requests_per_unit: -3\n";
    let (line, message) = line_of(parse(text).unwrap_err());
    assert_eq!(line, 6, "{message}");
}

#[test]
fn absurd_rates_are_refused_at_load() {
    for rpu in ["0", "18446744073709551615"] {
        let text = format!(
            "domain: d\ndescriptors:\n  - key: k\n    rate_limit:\n      unit: second\n      requests_per_unit: {rpu}\n"
        );
        let (line, message) = line_of(parse(&text).unwrap_err());
        assert!(line >= 3, "{rpu}: {line} {message}");
        assert!(message.contains("limit"), "{message}");
    }
}

#[test]
fn a_duplicate_descriptor_is_rejected_with_a_line() {
    let text = "domain: d\ndescriptors:\n  - key: a\n    descriptors:\n      - key: b\n        value: x\n      - key: b\n        value: x\n";
    let (line, message) = line_of(parse(text).unwrap_err());
    assert!(message.contains("duplicate descriptor key \"b\" value \"x\""), "{message}");
    assert!(line >= 3, "{line}");
}

#[test]
fn a_duplicate_top_level_descriptor_is_rejected() {
    let text = "domain: d\ndescriptors:\n  - key: a\n  - key: a\n";
    let (line, message) = line_of(parse(text).unwrap_err());
    assert!(message.contains("duplicate top-level descriptor key \"a\""), "{message}");
    assert_eq!(line, 4, "the second `- key: a`");
}

#[test]
fn unknown_fields_and_bad_yaml_are_rejected_with_their_line() {
    let (line, message) =
        line_of(parse("domain: d\ndescriptors:\n  - key: a\n    rate: 5\n").unwrap_err());
    assert_eq!(line, 4, "{message}");
    let (line, _) = line_of(parse("domain: d\ndescriptors:\n  - key: [unclosed\n").unwrap_err());
    assert!(line >= 3);
}

#[test]
fn burst_on_a_window_algorithm_is_refused() {
    let text = "domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1, burst: 2 }\n";
    let (_, message) = line_of(parse(text).unwrap_err());
    assert!(message.contains("burst"), "{message}");
}

#[test]
fn a_directory_loads_one_domain_per_file_and_refuses_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), "domain: a\n").unwrap();
    std::fs::write(dir.path().join("b.yml"), "domain: b\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
    let set = RuleSet::load(dir.path()).unwrap();
    let mut names: Vec<_> = set.domain_names().collect();
    names.sort_unstable();
    assert_eq!(names, ["a", "b"]);
    std::fs::write(dir.path().join("c.yaml"), "domain: a\n").unwrap();
    assert!(matches!(RuleSet::load(dir.path()), Err(RulesError::DuplicateDomain { .. })));
}
