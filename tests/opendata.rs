//! Open data over HTTP as its users meet it: the real binary with the demo data and an auth
//! file, read by the consumers an analyst uses (`pandas.read_csv` for CSV, `pyjstat` for
//! JSON-stat: `tests/opendata/consume.py`), every figure checked against what the gRPC
//! CLI answers for the same cell; and the API fuzzed by schemathesis against its own
//! OpenAPI document (`src/http/opendata/openapi.json`, served at `/openapi.json`).
//!
//! Needs `python3` with `tests/opendata-requirements.txt` installed (pandas, pyjstat) and
//! schemathesis' `st` on PATH; `.ci/run` installs them into target/test-venv and puts its
//! bin/ first on PATH. A missing one fails the test with a message naming the install step.
//! Each test runs in well under a minute on two cores.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The figures the tests read: demo data that exist (2019 has many regions; MK01 has
/// values, ranks and a 2018 value; FI1D has seven members).
const REGION: &str = "MK01";
const GROUP: &str = "FI1D";
/// A sum: its group value is given only when every member reported it (they all did in 2019).
const INDICATOR: &str = "natural_increase";
const YEAR: &str = "2019";
/// Every picture and series on each year's own borders: 2019 on those of 1.1.2020, on which
/// its vital statistics were published (on the latest borders three of FI1D's members,
/// whose land changed on 1.1.2021, have no 2019 figure).
const BORDERS: &str = "own";

/// The binary with the demo data and an auth file holding one reader token.
fn start_server(work: &Path) -> (Proc, String) {
    let (reader, entry) = new_token("open-data-reader", "reader", &[]);
    let auth = work.join("auth.toml");
    std::fs::write(&auth, entry + "\n").unwrap();
    let server = Proc::start(
        &work.join("data"),
        &["--demo", "--auth-file", auth.to_str().unwrap()],
    );
    (server, reader)
}

/// `python3` with pandas and pyjstat, or a failure naming the install step.
fn python_ready() {
    let out = Command::new("python3")
        .args(["-c", "import pandas, pyjstat.pyjstat"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "the open-data consumers are not importable ({}): install them with\n    \
             python3 -m pip install -r tests/opendata-requirements.txt\n(.ci/run does, into \
             target/test-venv, and puts its bin/ first on PATH)",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!("python3 is required for this test (.ci/run provides it): {e}"),
    }
}

/// schemathesis' `st` on PATH, or a failure naming the install step.
fn schemathesis_ready() {
    match Command::new("st").arg("--version").output() {
        Ok(o) if o.status.success() => {}
        other => panic!(
            "schemathesis (`st`) is required for this test ({}): install it with\n    \
             python3 -m pip install -r tests/opendata-requirements.txt\n(.ci/run does, into \
             target/test-venv, and puts its bin/ first on PATH)",
            match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                Err(e) => e.to_string(),
            }
        ),
    }
}

/// Runs `cmd` with its output in files under `dir`, killing it after `limit`; returns
/// (success, stdout, stderr).
fn run_bounded(
    mut cmd: Command,
    dir: &Path,
    name: &str,
    limit: Duration,
) -> (bool, String, String) {
    let out_path = dir.join(format!("{name}.stdout"));
    let err_path = dir.join(format!("{name}.stderr"));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    match status {
        Some(s) => (s.success(), out, err),
        None => panic!("{name} did not finish within {limit:?}:\n{out}\n{err}"),
    }
}

/// A plain HTTP/1.1 GET (a chunked body decoded); returns (status, body).
fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers: {}", String::from_utf8_lossy(&buf)));
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let mut body = &buf[end + 4..];
    let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let chunked = head
        .lines()
        .any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
    let mut out = Vec::new();
    if chunked {
        // size CRLF data CRLF ... 0 CRLF CRLF
        while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
            let size = String::from_utf8_lossy(&body[..eol]);
            let n = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&body[eol + 2..eol + 2 + n]);
            body = &body[eol + 2 + n + 2..];
        }
    } else {
        out.extend_from_slice(body);
    }
    (status, String::from_utf8(out).expect("a UTF-8 body"))
}

/// The CLI's `--json` answer of `args` (with the server and token added).
fn cli_json(server: &Proc, token: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    if ["picture", "national", "group", "series"].contains(&args[0]) {
        all.extend(["--borders", BORDERS]);
    }
    all.extend([
        "--server",
        server.grpc_url.as_str(),
        "--token",
        token,
        "--json",
    ]);
    let (ok, out, err) = cli(&all);
    assert!(ok, "tilannekuva {}: {err}", args.join(" "));
    serde_json::from_str(&out).unwrap_or_else(|e| {
        panic!(
            "tilannekuva {} --json is not JSON ({e}):\n{out}",
            args.join(" ")
        )
    })
}

/// A number of the JSON (None for null or absent).
fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

/// A rank or a count of ranked regions: gRPC says 0 for "not ranked", the open data null.
fn rank(v: &Value) -> Option<f64> {
    num(v).filter(|r| *r != 0.0)
}

/// Equal figures: both absent, or equal but for the last bits of a decimal rendering.
fn assert_same(what: &str, http: Option<f64>, grpc: Option<f64>) {
    let same = match (http, grpc) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        _ => false,
    };
    assert!(
        same,
        "{what}: the open data say {http:?}, gRPC (the CLI) says {grpc:?}"
    );
}

/// The entry of `list` whose `key` is `id`.
fn entry<'a>(list: &'a Value, key: &str, id: &str, doc: &Value) -> &'a Value {
    list.as_array()
        .into_iter()
        .flatten()
        .find(|e| e[key] == id)
        .unwrap_or_else(|| panic!("no {key} {id:?} in the CLI's answer:\n{doc:#}"))
}

/// The group value of `indicator` in `tilannekuva group --json`: the entry of `indicators`
/// for it, its `group` (a national_json-like object: `value`, `basis`, ...).
fn cli_group_value(doc: &Value, indicator: &str) -> Option<f64> {
    let e = entry(&doc["indicators"], "indicator_id", indicator, doc);
    match &e["group"] {
        Value::Object(g) => g.get("value").and_then(num),
        Value::Null if e.get("group_value").is_some() => num(&e["group_value"]),
        other => num(other),
    }
}

/// The member codes of `tilannekuva group --json`'s group (`group.members` or `members`).
fn cli_group_members(doc: &Value) -> Vec<String> {
    let members = if doc["group"]["members"].is_array() {
        &doc["group"]["members"]
    } else {
        &doc["members"]
    };
    members
        .as_array()
        .unwrap_or_else(|| panic!("no group members in the CLI's answer:\n{doc:#}"))
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn analysts_read_the_open_data_with_pandas_and_pyjstat_and_see_the_grpc_figures() {
    python_ready();
    let work = tempfile::tempdir().unwrap();
    let (server, reader) = start_server(work.path());
    let base = format!("http://{}", server.http);

    // The OpenAPI document is served without a token, and it is the repository's.
    let (status, body) = get(server.http, "/openapi.json", None);
    assert_eq!(status, 200, "{body}");
    let served: Value = serde_json::from_str(&body).expect("/openapi.json is JSON");
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("src/http/opendata/openapi.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        served, file,
        "/openapi.json is src/http/opendata/openapi.json"
    );

    let mut cmd = Command::new("python3");
    cmd.arg(repo_file("tests/opendata/consume.py")).args([
        "--base",
        base.as_str(),
        "--token",
        reader.as_str(),
        "--region",
        REGION,
        "--group",
        GROUP,
        "--indicator",
        INDICATOR,
        "--year",
        YEAR,
        "--borders",
        BORDERS,
    ]);
    let (ok, out, err) = run_bounded(cmd, work.path(), "consume", Duration::from_secs(120));
    assert!(ok, "consume.py failed:\n{out}\n{err}");
    let result: Value = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).expect("the RESULT line is JSON"))
        .unwrap_or_else(|| panic!("consume.py printed no RESULT line:\n{out}\n{err}"));
    let year: i64 = YEAR.parse().unwrap();

    // The region picture: every reported indicator, and the cell's figures.
    let rp = &result["region_picture"];
    let picture = cli_json(
        &server,
        &reader,
        &["picture", "--region", REGION, "--year", YEAR],
    );
    assert_eq!(
        rp["as_of_sequence"], picture["as_of_sequence"],
        "the open data and gRPC answer as of the same sequence (nothing is written meanwhile)"
    );
    let mut cli_inds: Vec<&str> = picture["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["indicator_id"].as_str().unwrap())
        .collect();
    cli_inds.sort_unstable();
    let http_inds: Vec<&str> = rp["indicators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert_eq!(
        http_inds, cli_inds,
        "the indicators of {REGION}'s {YEAR} picture"
    );
    let cell = entry(&picture["cells"], "indicator_id", INDICATOR, &picture);
    assert!(num(&cell["value"]).is_some(), "{cell}");
    assert_same("region value (CSV)", num(&rp["value"]), num(&cell["value"]));
    assert_same(
        "region value (JSON-stat)",
        num(&rp["jsonstat_value"]),
        num(&cell["value"]),
    );
    assert_same(
        "national value (CSV)",
        num(&rp["national_value"]),
        num(&cell["national_value"]),
    );
    assert_same(
        "national value (JSON-stat)",
        num(&rp["jsonstat_national_value"]),
        num(&cell["national_value"]),
    );
    assert_same("rank", rank(&rp["rank"]), rank(&cell["rank"]));
    assert_same(
        "regions ranked",
        rank(&rp["regions_ranked"]),
        rank(&cell["regions_ranked"]),
    );
    assert_same(
        "previous value",
        num(&rp["previous_value"]),
        num(&cell["previous_value"]),
    );
    // The borders the figure is on: 2019's own, those of 1.1.2020.
    assert_eq!(num(&cell["borders"]), Some(2020.0), "{cell}");
    assert_same("borders (CSV)", num(&rp["borders"]), num(&cell["borders"]));
    assert_same(
        "borders (JSON-stat)",
        num(&rp["jsonstat_borders"]),
        num(&cell["borders"]),
    );

    // The region's groups in its picture: each one's value as its group picture says.
    let groups = rp["groups"].as_object().expect("groups in the RESULT");
    assert!(
        !groups.is_empty(),
        "{REGION} belongs to a group (FI1B), so its picture has group columns: {rp}"
    );
    for (g, figures) in groups {
        let doc = cli_json(
            &server,
            &reader,
            &["group", "--group", g.as_str(), "--year", YEAR],
        );
        assert!(
            cli_group_members(&doc).iter().any(|m| m == REGION),
            "{REGION}'s picture names group {g}, which gRPC says it is not in:\n{doc:#}"
        );
        assert_same(
            &format!("{REGION}'s picture: group {g} value"),
            num(&figures["value"]),
            cli_group_value(&doc, INDICATOR),
        );
    }

    // The group picture.
    let gp = &result["group_picture"];
    let group = cli_json(
        &server,
        &reader,
        &["group", "--group", GROUP, "--year", YEAR],
    );
    let members: Vec<String> = gp["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        members,
        cli_group_members(&group),
        "{GROUP}'s members, in order"
    );
    assert_eq!(members.len(), 7, "{GROUP} has seven members: {members:?}");
    assert_same(
        &format!("{GROUP} value (CSV)"),
        num(&gp["value"]),
        cli_group_value(&group, INDICATOR),
    );
    assert_same(
        &format!("{GROUP} value (JSON-stat)"),
        num(&gp["jsonstat_value"]),
        cli_group_value(&group, INDICATOR),
    );
    assert!(
        num(&gp["value"]).is_some(),
        "{GROUP}'s {INDICATOR} {YEAR} has a value (a sum over all seven members): {gp}"
    );
    assert_same(
        &format!("{GROUP} picture: national value"),
        num(&gp["national_value"]),
        num(&cell["national_value"]),
    );
    // Each member's value is its own region picture's.
    for m in &members {
        let p = cli_json(
            &server,
            &reader,
            &["picture", "--region", m.as_str(), "--year", YEAR],
        );
        let value = p["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["indicator_id"] == INDICATOR)
            .and_then(|c| num(&c["value"]));
        assert_same(
            &format!("{GROUP} picture: {m}'s value"),
            num(&gp["member_values"][m]),
            value,
        );
    }

    // The national picture.
    let np = &result["national_picture"];
    let national = cli_json(&server, &reader, &["national", "--year", YEAR]);
    let ni = entry(
        &national["indicators"],
        "indicator_id",
        INDICATOR,
        &national,
    );
    assert_same(
        "national picture: value",
        num(&np["value"]),
        num(&ni["value"]),
    );
    assert_same(
        "national picture: value (JSON-stat)",
        num(&np["jsonstat_value"]),
        num(&ni["value"]),
    );
    assert_same(
        "national picture: computed value",
        num(&np["computed_value"]),
        num(&ni["computed_value"]),
    );
    assert_same(
        "national picture: regions reported",
        num(&np["regions_reported"]),
        num(&ni["regions_reported"]),
    );
    assert_same(
        "national picture: regions expected",
        num(&np["regions_expected"]),
        num(&ni["regions_expected"]),
    );

    // The series: as many years, the same value in the picture's year.
    let series = cli_json(
        &server,
        &reader,
        &["series", "--region", REGION, "--indicator", INDICATOR],
    );
    let points = series["points"].as_array().unwrap();
    assert_eq!(
        result["series"]["years"].as_u64(),
        Some(points.len() as u64),
        "years in the series: {}",
        result["series"]
    );
    let point = points
        .iter()
        .find(|p| p["year"].as_i64() == Some(year))
        .unwrap_or_else(|| panic!("no {YEAR} in the series:\n{series:#}"));
    assert_same(
        "series value",
        num(&result["series"]["value"]),
        num(&point["value"]),
    );

    // The history: the same revisions, by sequence.
    let history = cli_json(
        &server,
        &reader,
        &[
            "history",
            "--region",
            REGION,
            "--indicator",
            INDICATOR,
            "--year",
            YEAR,
        ],
    );
    let revisions: Vec<u64> = history["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(
        result["history"]["revisions"].as_u64(),
        Some(revisions.len() as u64),
        "revisions: {}",
        result["history"]
    );
    let http_revisions: Vec<u64> = result["history"]["sequences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    assert_eq!(http_revisions, revisions, "the revisions' sequences");

    // as_of=1: the catalog alone, said so in the header.
    for format in ["csv", "json-stat"] {
        assert_eq!(
            result["as_of_1"][format]["sequence"].as_u64(),
            Some(1),
            "{}",
            result["as_of_1"]
        );
    }
    // Without a token: 401 (consume.py checked the header and the body).
    assert_eq!(result["auth"]["missing"].as_u64(), Some(401));
    assert_eq!(result["auth"]["unknown"].as_u64(), Some(401));
    server.stop();
}

/// schemathesis' seed: the same cases on every run (a failure reproduces); change it to
/// explore others.
const SCHEMATHESIS_SEED: &str = "20250611";

#[test]
fn schemathesis_finds_the_api_as_its_openapi_document_says() {
    schemathesis_ready();
    let work = tempfile::tempdir().unwrap();
    let (server, reader) = start_server(work.path());
    let url = format!("http://{}/openapi.json", server.http);
    let header = format!("Authorization: Bearer {reader}");
    let config = repo_file("tests/opendata/schemathesis.toml");
    let mut cmd = Command::new("st");
    // Run in the scratch directory: schemathesis' cache and reports stay out of the tree.
    cmd.current_dir(work.path())
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(&config)
        .args([
            "run",
            url.as_str(),
            // Every check but positive_data_acceptance: a schema-valid region, group or
            // indicator code is usually not in the catalog, which is 400 by the contract.
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "-H",
            header.as_str(),
            "--max-examples",
            "30",
            "--seed",
            SCHEMATHESIS_SEED,
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--generation-database",
            "none",
            "--no-color",
        ]);
    let (ok, out, err) = run_bounded(cmd, work.path(), "schemathesis", Duration::from_secs(150));
    assert!(
        ok,
        "schemathesis found the API unlike src/http/opendata/openapi.json:\n{out}\n{err}"
    );
    // It tested every operation of the document.
    assert!(
        out.contains("Tested: 5"),
        "schemathesis did not test the five operations:\n{out}"
    );
    server.stop();
}
