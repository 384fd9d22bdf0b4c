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

/// The container image builds: every file the binary embeds (`include_str!`,
/// `include_bytes!`) lies in a folder `deploy/Dockerfile` copies into the build.
#[test]
fn the_image_build_copies_what_the_binary_embeds() {
    let dockerfile = std::fs::read_to_string("deploy/Dockerfile").unwrap();
    let copied: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter(|l| !l.starts_with("--from"))
        .flat_map(|l| l.split_whitespace())
        .collect();
    let mut sources = vec![std::path::PathBuf::from("src")];
    let mut embedded = std::collections::BTreeSet::new();
    while let Some(dir) = sources.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for macro_call in ["include_str!(\"", "include_bytes!(\""] {
                for rest in text.split(macro_call).skip(1) {
                    let file = path
                        .parent()
                        .unwrap()
                        .join(&rest[..rest.find('"').unwrap()]);
                    // Its first folder below the repository (`data`, `web`).
                    let resolved: Vec<_> = file.components().fold(Vec::new(), |mut out, c| {
                        match c {
                            std::path::Component::ParentDir => {
                                out.pop();
                            }
                            c => out.push(c.as_os_str().to_string_lossy().into_owned()),
                        }
                        out
                    });
                    embedded.insert(resolved[0].clone());
                }
            }
        }
    }
    assert!(
        embedded.contains("web") && embedded.contains("data"),
        "{embedded:?}"
    );
    for top in &embedded {
        assert!(
            copied.contains(&top.as_str()),
            "the binary embeds files of {top}/, which deploy/Dockerfile does not copy"
        );
    }
}
