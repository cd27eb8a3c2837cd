//! The console in a real browser: headless Debian Chromium driven by playwright-core
//! (`tests/browser/console.mjs`), against an app running exactly the registered systems.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use blueprint_testkit::{Backends, REQUIRE_SERVICES_ENV, spawn_app};

mod common;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Why the browser test cannot run here, if it cannot.
fn missing_prerequisite(root: &Path) -> Option<String> {
    if !Path::new("/usr/bin/chromium").exists() {
        return Some("/usr/bin/chromium is not installed (apt-get install chromium)".into());
    }
    if !root.join("node_modules/playwright-core").exists() {
        return Some("node_modules/playwright-core is missing (npm ci)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    None
}

/// Runs `tests/browser/<script>` against a fresh app with every registered system and
/// returns its stdout; fails the test when the script fails. `None` when skipped.
async fn run_browser_script(script: &str) -> Option<String> {
    skip_reason(script)?;
    let app = spawn_app(Backends::default(), blueprint::registry::systems()).await.unwrap();
    Some(run_script(script, &app.url("")).await)
}

/// `Some(())` when the browser test can run; `None` (printed) when it is skipped, and a
/// failure when CI requires it.
fn skip_reason(script: &str) -> Option<()> {
    let root = repo_root();
    if let Some(reason) = missing_prerequisite(&root) {
        if std::env::var(REQUIRE_SERVICES_ENV).as_deref() == Ok("1") {
            panic!("browser test cannot run: {reason}");
        }
        eprintln!("skipped: browser test {script}: {reason}");
        return None;
    }
    Some(())
}

/// Runs `tests/browser/<script> <base>` and returns its stdout; fails when it fails.
async fn run_script(script: &str, base: &str) -> String {
    let root = repo_root();
    let output = tokio::process::Command::new("node")
        .arg(root.join("tests/browser").join(script))
        .arg(base)
        .current_dir(&root)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "browser test {script} failed:\n{stdout}\n{stderr}");
    stdout
}

#[tokio::test]
async fn the_console_lists_every_system_in_a_real_browser() {
    if let Some(stdout) = run_browser_script("console.mjs").await {
        assert!(stdout.contains("console lists"), "{stdout}");
    }
}

#[tokio::test]
async fn the_system_pages_work_in_a_real_browser() {
    if let Some(stdout) = run_browser_script("pages.mjs").await {
        for page in ["/ratelimit/", "/hashring/", "/estimate/", "/ids/", "/kv/"] {
            assert!(stdout.contains(page), "{page} not checked: {stdout}");
        }
    }
}

#[tokio::test]
async fn the_kv_page_of_a_cluster_node_shows_the_ring_and_live_members() {
    if skip_reason("kv_cluster.mjs").is_none() {
        return;
    }
    let cluster = tokio::task::spawn_blocking(|| {
        let cluster = common::LocalCluster::start(3);
        cluster.wait_converged(std::time::Duration::from_secs(20));
        cluster
    })
    .await
    .unwrap();
    let stdout = run_script("kv_cluster.mjs", &cluster.nodes[0].2).await;
    assert!(stdout.contains("cluster page ok"), "{stdout}");
    drop(cluster);
}
