//! The web page as people meet it: the real binary with the demo data and an auth file,
//! opened in headless Chromium (Debian's `chromium`, driven through Debian's
//! `chromium-driver` by selenium from the test virtualenv) by `tests/web/browser.py`: every
//! view renders without a console error and without a serious or critical WCAG 2.1 AA
//! violation (axe-core), the map's areas and values are the API's, "as of" shows what was
//! known then, an upload is checked by line and column before anything is recorded, a reader
//! cannot upload, and text a client submitted stays text. Screenshots of each view are
//! written to `target/web-screenshots/`.
//!
//! The page's files are checked here too: their size (the budget below) and that the HTML
//! loads nothing from elsewhere.
//!
//! Needs `/usr/bin/chromium`, `/usr/bin/chromedriver` and `python3` with
//! `tests/web-requirements.txt`; `.ci/run` installs them. A missing one fails the test with a
//! message naming the install step.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// The page's files together: small enough to load at once on a slow line (issue: under
/// 500 KB), with no library.
const ASSET_BUDGET: u64 = 500 * 1024;

fn browser_ready() {
    for path in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: install Debian's chromium and chromium-driver (.ci/run does)"
        );
    }
    let out = Command::new("python3")
        .args(["-c", "import selenium, selenium_axe_python"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "selenium is not importable ({}): install it with\n    python3 -m pip install -r \
             tests/web-requirements.txt\n(.ci/run does, into target/test-venv, and puts its \
             bin/ first on PATH)",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("python3 is required for this test (.ci/run provides it): {e}"),
    }
}

#[test]
fn the_page_is_small_and_loads_nothing_from_elsewhere() {
    let mut total = 0;
    for f in std::fs::read_dir("web").unwrap() {
        let f = f.unwrap();
        total += f.metadata().unwrap().len();
    }
    assert!(
        total < ASSET_BUDGET,
        "the page's files are {total} bytes, over the budget of {ASSET_BUDGET}"
    );
    let html = std::fs::read_to_string("web/index.html").unwrap();
    let js = std::fs::read_to_string("web/app.js").unwrap();
    for text in [&html, &js] {
        // The SVG namespace is a name, not an address the page loads.
        let text = text.replace("\"http://www.w3.org/2000/svg\"", "");
        assert!(
            !text.contains("http://") && !text.contains("https://") && !text.contains("//cdn"),
            "the page refers to another origin"
        );
    }
    // Every script is a file of the page's own (the Content-Security-Policy would refuse an
    // inline one; this says so before a browser does).
    for script in html.split("<script").skip(1) {
        let tag = &script[..script.find('>').unwrap()];
        assert!(
            tag.contains("src=\"/ui/"),
            "an inline script: <script{tag}>"
        );
    }
    assert!(
        !html.contains(" style=") && !html.contains("<style"),
        "inline style"
    );
    for writes_markup in [
        ".innerHTML",
        ".outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "createContextualFragment",
        "DOMParser",
    ] {
        assert!(
            !js.contains(writes_markup),
            "the script writes markup ({writes_markup}): text a client submitted could become \
             markup"
        );
    }
}

#[test]
fn the_page_works_in_a_browser() {
    browser_ready();
    let work = tempfile::tempdir().unwrap();
    let roles = [
        ("admin", "admin", vec![]),
        ("reporter", "reporter", vec!["MK01"]),
        ("reader", "reader", vec![]),
    ];
    let mut tokens = serde_json::Map::new();
    let mut entries = Vec::new();
    for (name, role, regions) in &roles {
        let (token, entry) = new_token(&format!("web-{name}"), role, regions);
        tokens.insert((*name).to_owned(), token.into());
        entries.push(entry);
    }
    let auth = work.path().join("auth.toml");
    std::fs::write(&auth, entries.join("\n") + "\n").unwrap();
    let tokens_file = work.path().join("tokens.json");
    std::fs::write(
        &tokens_file,
        serde_json::Value::Object(tokens.clone()).to_string(),
    )
    .unwrap();
    let server = Proc::start(
        &work.path().join("data"),
        &["--demo", "--auth-file", auth.to_str().unwrap()],
    );
    // A round for the round view: two regions, so one can be seen reporting and one not.
    let (ok, _, err) = cli(&[
        "round",
        "open",
        "--server",
        &server.grpc_url,
        "--token",
        tokens["admin"].as_str().unwrap(),
        "--year",
        "2023",
        "--deadline",
        "2024-09-30",
        "--allow-past",
        "--region",
        "MK01",
        "--region",
        "MK19",
    ]);
    assert!(ok, "round open: {err}");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("web-screenshots");
    let out = Command::new("python3")
        .arg("tests/web/browser.py")
        .args(["--base", &format!("http://{}", server.http)])
        .args(["--tokens", tokens_file.to_str().unwrap()])
        .args(["--shots", shots.to_str().unwrap()])
        .output()
        .expect("run tests/web/browser.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser found problems:\n{stdout}\n{stderr}"
    );
    assert!(stdout.lines().any(|l| l == "0 failures"), "{stdout}");
    // What was checked, for `--nocapture`.
    println!("{stdout}");
    server.stop();
}
