//! The README's commands run as a newcomer runs them: every ```sh block of README.md, in
//! order, against one demo server (`serve --demo`) the test starts on free loopback ports.
//! Each command runs with `bash -euo pipefail` in one temporary working directory, so that
//! a file one command writes (`lappi.csv`, `log.ndjson`) is there for the next. The
//! repository's top-level files and directories are linked into it, so that
//! `data/official/…` resolves as it does from the repository's root. Before a command runs:
//!
//! - the README's line that names the binary (`B=target/…/tilannekuva`, whatever the path)
//!   names the one this build made;
//! - the CLI's default server (`127.0.0.1:50051`) is the test's through
//!   `TILANNEKUVA_SERVER`, and `127.0.0.1:9464` in a URL (curl, pandas) is rewritten to the
//!   test's HTTP port; a default port left over in a command fails it, never reaching a
//!   server someone else runs;
//! - curl fails on an HTTP error (`--fail-with-body` in a `.curlrc` of the test's own), so
//!   an answer of 404 is a failure, not output.
//!
//! Assignments, `export` and `cd` carry over to the commands after them, as in one
//! terminal. The commands a test cannot run are in [`SKIPPED`], each with why; a rule that
//! matches nothing fails the test. Every other command must exit 0. The python3 line reads
//! the open data with pandas: `.ci/run` puts a virtualenv that has it first on PATH, and
//! without it the test fails saying so.

mod common;

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The README's commands this test does not run, by how the command starts, and why.
const SKIPPED: &[(&str, &str)] = &[
    (
        "cargo run",
        "the test runs the binary this build made and starts the demo server itself",
    ),
    (".ci/run", "it is the command that runs this test"),
    (
        "docker compose",
        "builds the images and runs the whole stack under Docker, beyond a test",
    ),
];

/// The longest a command may take: `verify` of the demo's store rebuilds every picture
/// twice, 17 s in a debug build on an idle two-core machine.
const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// One command of a block as written: a line, with the lines a trailing backslash
/// continues it on and the lines of its here-documents.
#[derive(Debug, Clone, PartialEq)]
struct Cmd {
    /// The block's number in the README, from 1.
    block: usize,
    /// The README line the command starts on, from 1.
    line: usize,
    text: String,
}

/// The ```sh blocks of `markdown`, in order: the number of each block's first line (from 1)
/// and its lines, without the fence's indentation. A block of another shell dialect
/// (```bash, ```console) fails: it would show commands that nothing runs.
fn sh_blocks(markdown: &str) -> Vec<(usize, Vec<String>)> {
    let mut blocks = Vec::new();
    // (first line, indentation of the fence, lines, an sh block)
    let mut open: Option<(usize, usize, Vec<String>, bool)> = None;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_start();
        let fence = trimmed.starts_with("```");
        match &mut open {
            None if fence => {
                let info = trimmed.trim_start_matches('`').trim();
                assert!(
                    !matches!(info, "bash" | "shell" | "console" | "shell-session" | "zsh"),
                    "README.md line {}: a ```{info} block: write ```sh, the blocks \
                     tests/readme.rs runs",
                    i + 1
                );
                open = Some((i + 2, line.len() - trimmed.len(), Vec::new(), info == "sh"));
            }
            None => {}
            Some(_) if fence => {
                let (first, _, lines, sh) = open.take().unwrap();
                if sh {
                    blocks.push((first, lines));
                }
            }
            Some((_, indent, lines, _)) => {
                let cut = line.len() - line.trim_start_matches(' ').len();
                lines.push(line[cut.min(*indent)..].to_owned());
            }
        }
    }
    if let Some((first, ..)) = open {
        panic!("README.md line {}: a code block is never closed", first - 1);
    }
    blocks
}

/// The here-documents `text` opens, in order: each delimiter and whether leading tabs are
/// stripped (`<<-`). `<<` inside quotes (a Python one-liner's shift) and `<<<` are not.
fn heredocs(text: &str) -> Vec<(String, bool)> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '\\' => i += 1,
            None if c == '<' && chars.get(i + 1) == Some(&'<') => {
                i += 2;
                if chars.get(i) == Some(&'<') {
                    i += 1;
                    continue;
                }
                let strip_tabs = chars.get(i) == Some(&'-');
                if strip_tabs {
                    i += 1;
                }
                while chars.get(i).is_some_and(|c| *c == ' ' || *c == '\t') {
                    i += 1;
                }
                let mut delimiter = String::new();
                let mut in_quote: Option<char> = None;
                while let Some(&d) = chars.get(i) {
                    match in_quote {
                        Some(q) if d == q => in_quote = None,
                        Some(_) => delimiter.push(d),
                        None if d == '\'' || d == '"' => in_quote = Some(d),
                        None if d.is_whitespace() || ";|&<>()".contains(d) => break,
                        None => delimiter.push(d),
                    }
                    i += 1;
                }
                if !delimiter.is_empty() {
                    found.push((delimiter, strip_tabs));
                }
                continue;
            }
            None => {}
        }
        i += 1;
    }
    found
}

/// The commands of block `block`, whose lines start at README line `first`. Blank lines and
/// comment lines are no commands.
fn commands(block: usize, first: usize, lines: &[String]) -> Vec<Cmd> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            i += 1;
            continue;
        }
        let start = i;
        let mut text = lines[i].clone();
        while text.trim_end().ends_with('\\') && i + 1 < lines.len() {
            i += 1;
            text.push('\n');
            text.push_str(&lines[i]);
        }
        for (delimiter, strip_tabs) in heredocs(&text) {
            loop {
                i += 1;
                let line = lines.get(i).unwrap_or_else(|| {
                    panic!(
                        "README.md line {}: the here-document up to {delimiter} does not end \
                         in its block",
                        first + start
                    )
                });
                text.push('\n');
                text.push_str(line);
                let line = if strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if line == delimiter {
                    break;
                }
            }
        }
        out.push(Cmd {
            block,
            line: first + start,
            text,
        });
        i += 1;
    }
    out
}

/// `text` as an assignment `NAME=VALUE` (maybe followed by a comment), else `None`.
fn assignment(text: &str) -> Option<(&str, &str)> {
    let mut words = text.trim().splitn(2, char::is_whitespace);
    let (name, value) = words.next()?.split_once('=')?;
    let tail = words.next().unwrap_or("").trim();
    let identifier = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (identifier && (tail.is_empty() || tail.starts_with('#'))).then_some((name, value))
}

/// The README's line naming the binary (`B=target/release/tilannekuva`), naming `bin`
/// instead; `None` when `text` is no such line.
fn naming_binary(text: &str, bin: &str) -> Option<String> {
    let (name, value) = assignment(text)?;
    let value = value.trim_matches(|c| c == '"' || c == '\'');
    (value == "tilannekuva" || value.ends_with("/tilannekuva")).then(|| format!("{name}='{bin}'"))
}

/// A command whose effect the commands after it see in one terminal.
fn changes_the_shell(text: &str) -> bool {
    let t = text.trim();
    assignment(t).is_some() || t.starts_with("export ") || t.starts_with("cd ")
}

/// `text` with the default addresses in it pointed at the test's server.
fn pointed_at(text: &str, grpc: &str, http: &str) -> String {
    text.replace("127.0.0.1:50051", grpc)
        .replace("localhost:50051", grpc)
        .replace("127.0.0.1:9464", http)
        .replace("localhost:9464", http)
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    let cut = if from > 0 {
        format!("[… {from} lines before]\n")
    } else {
        String::new()
    };
    format!("{cut}{}", lines[from..].join("\n"))
}

/// The commands' environment: none of the caller's `TILANNEKUVA_*` settings (a token, a
/// server), the test's server, and curl reading the test's `.curlrc` only.
fn environment(command: &mut Command, grpc_url: &str, curl_home: &Path) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("TILANNEKUVA_") {
            command.env_remove(&key);
        }
    }
    command
        .env("TILANNEKUVA_SERVER", grpc_url)
        .env("CURL_HOME", curl_home);
}

/// Runs `script` with `bash -euo pipefail` in `dir`, its output (stdout and stderr, as a
/// terminal shows them) into `out`. `None` when it ran longer than [`COMMAND_LIMIT`]
/// (its process group is then killed).
fn run_script(
    script: &str,
    dir: &Path,
    out: &Path,
    setup: impl FnOnce(&mut Command),
) -> Option<ExitStatus> {
    use std::os::unix::process::CommandExt;
    let file = std::fs::File::create(out).unwrap();
    let mut command = Command::new("bash");
    command
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .process_group(0);
    setup(&mut command);
    let mut child = command.spawn().expect("run bash");
    let deadline = Instant::now() + COMMAND_LIMIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_command_of_the_readme_runs_against_a_demo_server() {
    let started = Instant::now();
    let readme = std::fs::read_to_string(repo_file("README.md")).unwrap();
    let blocks = sh_blocks(&readme);
    assert!(!blocks.is_empty(), "README.md has no ```sh block");
    let all: Vec<Cmd> = blocks
        .iter()
        .enumerate()
        .flat_map(|(n, (first, lines))| commands(n + 1, *first, lines))
        .collect();

    // What runs and what is skipped, known before a server starts.
    let mut skips_used = vec![0; SKIPPED.len()];
    let mut to_run = Vec::new();
    for cmd in &all {
        let t = cmd.text.trim_start();
        match SKIPPED.iter().position(|(start, _)| t.starts_with(start)) {
            Some(rule) => skips_used[rule] += 1,
            None => to_run.push(cmd.clone()),
        }
    }
    for ((start, why), used) in SKIPPED.iter().zip(&skips_used) {
        assert!(
            *used > 0,
            "no command of README.md starts with `{start}` (skipped: {why}): take the rule \
             out of SKIPPED"
        );
    }
    let bin = bin();
    assert!(
        to_run.iter().any(|c| naming_binary(&c.text, bin).is_some()),
        "no ```sh block of README.md names the binary (`B=target/debug/tilannekuva`), \
         which the test points at the one this build made"
    );
    assert!(
        to_run.iter().any(|c| naming_binary(&c.text, bin).is_none()),
        "README.md's ```sh blocks have no command to run"
    );
    let venv_hint = "run the tests with .ci/run, which puts target/test-venv (with \
                     tests/opendata-requirements.txt) first on PATH";
    if let Some(cmd) = to_run.iter().find(|c| c.text.contains("pandas")) {
        let out = Command::new("python3")
            .args(["-c", "import pandas"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run python3 ({e}): {venv_hint}"));
        assert!(
            out.status.success(),
            "README.md line {} reads the open data with pandas, and the python3 on PATH \
             cannot import it: {venv_hint}\n{}",
            cmd.line,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // One working directory for all the blocks, laid out like the repository's root.
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    let logs = tmp.path().join("logs");
    let curl_home = tmp.path().join("curl");
    for dir in [&work, &logs, &curl_home] {
        std::fs::create_dir(dir).unwrap();
    }
    std::fs::write(
        curl_home.join(".curlrc"),
        "--fail-with-body\n--show-error\n",
    )
    .unwrap();
    let root = repo_file("");
    for entry in std::fs::read_dir(&root).unwrap() {
        let name = entry.unwrap().file_name();
        let name_str = name.to_string_lossy();
        // Not the build's output, nor a data directory of a server run from the root.
        if name_str.starts_with('.') || name_str == "target" || name_str == "tilannekuva-data" {
            continue;
        }
        std::os::unix::fs::symlink(root.join(&name), work.join(&name)).unwrap();
    }

    let data = tempfile::tempdir().unwrap();
    let server = Proc::start(data.path(), &["--demo"]);
    let grpc = server.grpc_url.trim_start_matches("http://").to_owned();
    let http = server.http.to_string();
    println!(
        "demo server ready after {:.1} s (gRPC {grpc}, HTTP {http})",
        started.elapsed().as_secs_f64()
    );

    let mut shell_state = String::new();
    let mut failures = Vec::new();
    for (n, cmd) in to_run.iter().enumerate() {
        let text =
            naming_binary(&cmd.text, bin).unwrap_or_else(|| pointed_at(&cmd.text, &grpc, &http));
        let place = format!("block {}, README.md line {}", cmd.block, cmd.line);
        if text.contains(":50051") || text.contains(":9464") {
            failures.push(format!(
                "{place}: `{}` names a default port at an address the test does not point at \
                 its server (it rewrites 127.0.0.1 and localhost)",
                cmd.text
            ));
            continue;
        }
        let out = logs.join(format!("{n:03}.out"));
        let t = Instant::now();
        let status = run_script(&format!("{shell_state}{text}"), &work, &out, |c| {
            environment(c, &server.grpc_url, &curl_home)
        });
        let output = std::fs::read_to_string(&out).unwrap_or_default();
        let took = t.elapsed().as_secs_f64();
        match status {
            Some(s) if s.success() => {
                println!("ok {took:5.1} s  {place}: {}", cmd.text);
                if changes_the_shell(&text) {
                    shell_state.push_str(&text);
                    shell_state.push('\n');
                }
            }
            failed => {
                let how = match failed {
                    Some(s) => format!("exited with {s}"),
                    None => format!("ran longer than {} s", COMMAND_LIMIT.as_secs()),
                };
                println!("FAILED {took:5.1} s  {place}: {}", cmd.text);
                failures.push(format!(
                    "{place}: `{}` {how}; its output:\n{}",
                    cmd.text,
                    tail(&output, 40)
                ));
            }
        }
    }
    let skipped: Vec<String> = all
        .iter()
        .filter(|c| !to_run.contains(c))
        .map(|c| format!("README.md line {}: {}", c.line, c.text))
        .collect();
    println!(
        "{} commands run, {} skipped ({}), in {:.1} s",
        to_run.len(),
        skipped.len(),
        skipped.join("; "),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} README commands failed (a later one may fail because an earlier one did):\
         \n\n{}",
        failures.len(),
        to_run.len(),
        failures.join("\n\n")
    );
    server.stop();
}

/// The splitting the test above relies on: a continued line and a here-document stay with
/// their command, comments are none, and only the binary's line and the default addresses
/// change.
#[test]
fn a_block_splits_into_the_commands_a_terminal_would_run() {
    let markdown = [
        "text",
        "",
        "  ```sh",
        "  B=target/release/tilannekuva   # built above",
        "  # a comment",
        "",
        "  cat > f.csv <<'EOF'",
        "  a,b",
        "  # data, not a comment",
        "  EOF",
        "  $B import-table --mapping m.toml \\",
        "     --file t.px --dry-run",
        "  python3 -c 'print(1 << 2)'",
        "  curl -s http://127.0.0.1:9464/healthz",
        "  ```",
        "```toml",
        "x = 1",
        "```",
        "```sh",
        "cat <<-END | wc -l",
        "\tx",
        "\tEND",
        "```",
    ]
    .join("\n");
    let blocks = sh_blocks(&markdown);
    assert_eq!(blocks.len(), 2, "{blocks:?}");
    let cmds: Vec<Cmd> = blocks
        .iter()
        .enumerate()
        .flat_map(|(n, (first, lines))| commands(n + 1, *first, lines))
        .collect();
    let seen: Vec<(usize, usize, &str)> = cmds
        .iter()
        .map(|c| (c.block, c.line, c.text.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, 4, "B=target/release/tilannekuva   # built above"),
            (1, 7, "cat > f.csv <<'EOF'\na,b\n# data, not a comment\nEOF"),
            (
                1,
                11,
                "$B import-table --mapping m.toml \\\n   --file t.px --dry-run"
            ),
            (1, 13, "python3 -c 'print(1 << 2)'"),
            (1, 14, "curl -s http://127.0.0.1:9464/healthz"),
            (2, 20, "cat <<-END | wc -l\n\tx\n\tEND"),
        ]
    );
    assert_eq!(
        naming_binary(&cmds[0].text, "/b/tilannekuva").as_deref(),
        Some("B='/b/tilannekuva'")
    );
    assert!(changes_the_shell(&cmds[0].text));
    assert_eq!(naming_binary(&cmds[2].text, "/b/tilannekuva"), None);
    assert!(!changes_the_shell(&cmds[2].text));
    assert_eq!(
        pointed_at(&cmds[4].text, "127.0.0.1:1", "127.0.0.1:2"),
        "curl -s http://127.0.0.1:2/healthz"
    );
    let unclosed = std::panic::catch_unwind(|| sh_blocks("```sh\nls\n"));
    assert!(unclosed.is_err(), "an unclosed block is refused");
    let bash = std::panic::catch_unwind(|| sh_blocks("```bash\nls\n```\n"));
    assert!(bash.is_err(), "a ```bash block is refused");
}
