//! The bundled data reproduce the totals they were published with: the stdlib-only checks
//! of `data/` (`data/check_data.py`: the catalog and the demo releases; `data/geo/check.py`: the
//! map boundaries; `data/areas/check.py`:
//! the municipality keys, mergers and municipal population) run with the test's `python3`.

use std::process::Command;

fn run_check(script: &str) {
    let path = format!("{}/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 {path} ({e}): .ci/run puts a python3 on PATH")
        });
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
}

#[test]
fn the_catalog_and_the_demo_releases_pass_their_checks() {
    run_check("data/check_data.py");
}

#[test]
fn the_area_keys_reproduce_the_published_totals() {
    run_check("data/areas/check.py");
}

#[test]
fn the_map_boundaries_match_the_key_and_the_published_totals() {
    run_check("data/geo/check.py");
}
