//! `tilannekuva serve`: checks the flags, opens the store (repairing a writer's store from
//! the stream first), binds the listeners, starts replication, loads the auth file (and
//! reloads it on SIGHUP) and serves until SIGINT or SIGTERM.

use std::sync::Arc;

use anyhow::{bail, Context};

use super::ServeArgs;
use crate::auth::Auth;
use crate::domain::areas::{BUNDLED_DIVISIONS, BUNDLED_MERGERS, BUNDLED_MUNICIPALITIES};
use crate::domain::catalog::{
    Catalog, BUNDLED_GROUPS, BUNDLED_INDICATORS, BUNDLED_REGIONS, BUNDLED_TARGETS,
};
use crate::replication::{self, NatsConfig};
use crate::server::{run, Core, ServeOptions};

pub(super) async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    if args.follow.is_some() && args.demo {
        bail!("--demo writes data; a replica (--follow) takes its data from the writer's stream");
    }
    for (flag, v) in [
        ("--replication-timeout", args.replication_timeout),
        ("--lease-ttl", args.lease_ttl),
    ] {
        if !(v.is_finite() && v > 0.0) {
            bail!("{flag} must be a positive number of seconds");
        }
    }
    let nats = |url: &String| NatsConfig {
        url: url.clone(),
        stream: args.nats_stream.clone(),
        replicas: args.nats_replicas,
    };
    let signal = shutdown_signal()?;
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        signal.await;
        let _ = stop_tx.send(true);
    };
    // Without an auth file every caller may write anything: only loopback may reach it.
    if args.auth_file.is_none() && !args.insecure {
        for (what, addr) in [("gRPC", args.grpc_listen), ("HTTP", args.http_listen)] {
            if !addr.ip().is_loopback() {
                bail!(
                    "refusing to listen on {addr} ({what}) without an auth file: anyone who can \
                     reach it could write figures. Give --auth-file (see `tilannekuva token new`), \
                     listen on a loopback address, or pass --insecure to accept the risk"
                );
            }
        }
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let cert =
                std::fs::read(cert).with_context(|| format!("cannot read {}", cert.display()))?;
            let key =
                std::fs::read(key).with_context(|| format!("cannot read {}", key.display()))?;
            Some(crate::http::TlsFiles { cert, key })
        }
        _ => None,
    };
    // Every connection and sled file costs a descriptor; the default soft limit (1,024)
    // is below the connection limit.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(error = %e, "cannot raise the open-file limit");
    }
    let read = |p: &Option<std::path::PathBuf>, bundled: &str| -> anyhow::Result<String> {
        match p {
            Some(p) => {
                std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
            }
            None => Ok(bundled.to_owned()),
        }
    };
    // The bundled groups name the bundled regions: another region catalog brings its own.
    let groups = match (&args.group_catalog, &args.region_catalog) {
        (None, Some(_)) => String::new(),
        (g, _) => read(g, BUNDLED_GROUPS)?,
    };
    let targets = match (&args.target_catalog, &args.indicator_catalog) {
        (None, Some(_)) => String::new(),
        (t, _) => read(t, BUNDLED_TARGETS)?,
    };
    // The bundled areas, too, name the bundled regions.
    let own_regions = args.region_catalog.is_some();
    let area_file = |p: &Option<std::path::PathBuf>, bundled: &str| match (p, own_regions) {
        (None, true) => Ok(String::new()),
        (p, _) => read(p, bundled),
    };
    let key = area_file(&args.municipality_key, BUNDLED_MUNICIPALITIES)?;
    let mergers = match &args.mergers {
        Some(_) => vec![read(&args.mergers, "")?],
        None if own_regions => Vec::new(),
        None => BUNDLED_MERGERS.iter().map(|m| (*m).to_owned()).collect(),
    };
    let mergers: Vec<&str> = mergers.iter().map(String::as_str).collect();
    let divisions = area_file(&args.divisions, BUNDLED_DIVISIONS)?;
    let catalog = Catalog::from_csv(
        &read(&args.region_catalog, BUNDLED_REGIONS)?,
        &read(&args.indicator_catalog, BUNDLED_INDICATORS)?,
    )
    .and_then(|c| c.with_groups(&groups))
    .and_then(|c| c.with_areas(&key, &mergers, &divisions))
    .and_then(|c| c.with_targets(&targets))
    .context("invalid catalog")?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.clone();
    if let Some(url) = &args.nats_url {
        // A writer whose store is behind the stream takes the missing events first.
        let log = crate::store::EventLog::open(&data_dir)?;
        match replication::repair(&log, &nats(url), std::time::Duration::from_secs(10)).await {
            Ok(Some(n)) if n > 0 => tracing::info!(events = n, "store repaired from the stream"),
            Ok(_) => {}
            Err(e) => bail!("{e}"),
        }
    }
    let read_only = args.follow.as_ref().map(|url| {
        format!(
            "this server is a read replica following the stream {} at {url}; send writes to the \
             writer",
            args.nats_stream
        )
    });
    let snapshot_every = args.snapshot_every;
    let mut core = tokio::task::spawn_blocking(move || {
        let bootstrap = read_only.is_none().then_some(&catalog);
        Core::open_as(&data_dir, bootstrap, read_only, snapshot_every)
    })
    .await??;
    let grpc = crate::server::listen(args.grpc_listen)
        .with_context(|| format!("cannot listen on {} (gRPC)", args.grpc_listen))?;
    let http = crate::server::listen(args.http_listen)
        .with_context(|| format!("cannot listen on {} (HTTP)", args.http_listen))?;
    let grpc_addr = grpc.local_addr()?;
    let role = match (&args.nats_url, &args.follow) {
        (Some(url), _) => Some((url, replication::PlanRole::Writer)),
        (None, Some(url)) => Some((
            url,
            replication::PlanRole::Replica {
                standby: args.standby,
            },
        )),
        (None, None) => None,
    };
    let replication = match role {
        Some((url, role)) => {
            let plan = replication::Plan {
                cfg: nats(url),
                role,
                mode: args.replication,
                sync_wait: std::time::Duration::from_secs_f64(args.replication_timeout),
                lease_ttl: std::time::Duration::from_secs_f64(args.lease_ttl),
                me: replication::failover::Holder {
                    id: format!(
                        "{}-{}-{:08x}",
                        args.hostname.to_string_lossy(),
                        std::process::id(),
                        rand_u32()
                    ),
                    url: args
                        .advertise_url
                        .clone()
                        .unwrap_or_else(|| format!("http://{grpc_addr}")),
                },
            };
            tracing::info!(url = %url, stream = %args.nats_stream, mode = args.replication.as_str(), "replication over NATS JetStream");
            replication::start(&mut core, plan, stop.clone())
                .await
                .map_err(anyhow::Error::msg)?
        }
        None => {
            core.metrics.set_role("standalone");
            replication::Running {
                promote: None,
                lease: None,
            }
        }
    };
    let projection = core.projection.clone();
    let resolve = move |code: &str| {
        projection
            .read()
            .catalog()
            .resolve_region(code)
            .map(|r| r.code.clone())
    };
    let auth = Arc::new(match &args.auth_file {
        Some(path) => {
            let auth = Auth::from_file(path, &resolve, core.metrics.auth_refusals.clone())?;
            tracing::info!(path = %path.display(), "auth file loaded");
            auth
        }
        None => Auth::disabled(core.metrics.auth_refusals.clone()),
    });
    if auth.enabled() {
        let (auth, metrics) = (auth.clone(), core.metrics.clone());
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                match auth.reload(&resolve) {
                    Ok(n) => {
                        metrics.auth_reloads.with_label_values(&["ok"]).inc();
                        tracing::info!(tokens = n, "auth file reloaded");
                    }
                    Err(e) => {
                        metrics.auth_reloads.with_label_values(&["error"]).inc();
                        tracing::error!(error = %e, "auth file reload failed; the previous tokens stay in force");
                    }
                }
            }
        });
    }
    if args.demo {
        core.load_demo().await?;
    }
    if let Some(p) = &args.pid_file {
        std::fs::write(p, format!("{}\n", std::process::id()))
            .with_context(|| format!("cannot write the pid file {}", p.display()))?;
    }
    tracing::info!(grpc = %grpc.local_addr()?, http = %http.local_addr()?, data_dir = %args.data_dir.display(), tls = tls.is_some(), auth = auth.enabled(), "tilannekuva listening");
    let options = ServeOptions {
        auth,
        tls,
        idle_timeout: crate::limits::IDLE_TIMEOUT,
        http_idle_timeout: crate::limits::HTTP_IDLE_TIMEOUT,
        http_header_timeout: crate::limits::HTTP_HEADER_TIMEOUT,
        promote: replication.promote.map(|tx| (tx, args.nats_stream.clone())),
    };
    let served = run(&core, options, grpc, http, shutdown).await;
    if let Some(p) = &args.pid_file {
        let _ = std::fs::remove_file(p);
    }
    if let Some(lease) = replication.lease {
        // A writer hands its lease back (bounded: NATS may be gone).
        let _ = tokio::time::timeout(std::time::Duration::from_secs(3), lease).await;
    }
    served?;
    tracing::info!("shutting down");
    tokio::task::spawn_blocking(move || core.shutdown()).await?;
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled, so a signal that arrives right after start-up is not lost
/// (nor does it kill the process with the default action).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
        }
    })
}

/// A random number for the writer-lease holder's id.
fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    // Without OS randomness the id is still unique by host and process.
    let _ = getrandom::fill(&mut b);
    u32::from_le_bytes(b)
}
