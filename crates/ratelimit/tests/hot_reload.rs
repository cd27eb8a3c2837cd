//! Hot reload: an edit applies within 1 s; a broken file keeps the old rules.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use blueprint_ratelimit::rules::Descriptor;
use blueprint_ratelimit::watch;

fn rules(limit: u64) -> String {
    format!(
        "domain: api\ndescriptors:\n  - key: user\n    rate_limit: {{ unit: minute, requests_per_unit: {limit} }}\n"
    )
}

fn current_limit(handle: &arc_swap::ArcSwap<blueprint_ratelimit::rules::RuleSet>) -> u64 {
    let m = handle.load().matches("api", &[Descriptor::new([("user", "u1")])]).unwrap();
    m[0].rule.spec.unwrap().limit
}

#[tokio::test]
async fn an_edit_applies_within_a_second_and_a_broken_file_keeps_the_old_rules() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("api.yaml");
    std::fs::write(&file, rules(10)).unwrap();
    let handle = watch::load_initial(&file).unwrap();
    let task = watch::spawn(file.clone(), handle.clone(), watch::POLL_INTERVAL);
    assert_eq!(current_limit(&handle), 10);

    std::fs::write(&file, rules(20)).unwrap();
    let edited = Instant::now();
    while current_limit(&handle) != 20 {
        assert!(edited.elapsed() < Duration::from_secs(1), "edit not applied within 1 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    std::fs::write(&file, "domain: api\ndescriptors:\n  - key: user\n    rate_limit: { unit: fortnight, requests_per_unit: 1 }\n").unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(current_limit(&handle), 20, "the broken file was not applied");

    std::fs::write(&file, rules(30)).unwrap();
    let fixed = Instant::now();
    while current_limit(&handle) != 30 {
        assert!(fixed.elapsed() < Duration::from_secs(1), "fix not applied within 1 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    task.abort();
}
