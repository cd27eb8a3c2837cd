//! Every route in `/openapi.json` fuzzed by schemathesis (`st`, from PyPI) against an app
//! running every registered system: no 5xx for any generated input, and every status,
//! content type, header and body the server answers is the one the document describes.
//!
//! Not checked: schemathesis's "a schema-valid request must be accepted"
//! (`positive_data_acceptance`), because some refusals are semantic and no schema can say
//! them (an unknown rate-limit domain, a simulation that would generate too many requests).
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use blueprint_platform::clock::SystemClock;
use blueprint_platform::config::LoadedConfig;
use blueprint_testkit::{Backends, REQUIRE_SERVICES_ENV, spawn_configured};

/// Generated cases per operation: enough to reach every documented branch, bounded so the
/// run stays well under a minute.
const MAX_EXAMPLES: &str = "25";

/// Limits high enough that the fuzzer never waits on the leaking bucket or gets a 429 from
/// the layer (429 is documented, but waiting would only make the run slow).
const RULES: &str = "domain: api
descriptors:
  - key: remote_address
    rate_limit: { unit: second, requests_per_unit: 100000 }
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_survives_the_fuzzer_and_answers_as_documented() {
    if std::process::Command::new("st").arg("--version").output().is_err() {
        let reason = "schemathesis (`st`) is not installed (pip install schemathesis)";
        if std::env::var(REQUIRE_SERVICES_ENV).as_deref() == Ok("1") {
            panic!("fuzz test cannot run: {reason}");
        }
        eprintln!("skipped: {reason}");
        return;
    }
    let app = spawn_configured(
        Backends::default(),
        blueprint::registry::systems(),
        Arc::new(SystemClock),
        |_| {},
        |loaded: LoadedConfig, data_dir: &Path| {
            let path = data_dir.join("rules.yaml");
            std::fs::write(&path, RULES)?;
            Ok(loaded.with_section("ratelimit", serde_json::json!({ "rules_path": path })))
        },
    )
    .await
    .unwrap();
    // schemathesis keeps a cache in its working directory: keep it out of the tree.
    let scratch = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new("st")
        .current_dir(scratch.path())
        .args(["run", &app.url("/openapi.json"), "--checks", "all"])
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", "1", "--no-color"])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "schemathesis found failures:\n{stdout}\n{stderr}");
    assert!(stdout.contains("passed"), "{stdout}");
}
