//! The `tilannekuva` binary: parses the command line, starts tracing, binds listeners and
//! hands them to the library.

use anyhow::{bail, Context};
use clap::Parser;
use tilannekuva::cli::{Cli, Command, ServeArgs};
use tilannekuva::domain::catalog::{Catalog, BUNDLED_INDICATORS, BUNDLED_REGIONS};
use tilannekuva::server::{run, Core};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(serve(args)),
        // The load generator must not be the bottleneck it measures: one thread per core.
        Command::Loadgen(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(tilannekuva::cli::run(Command::Loadgen(args))),
        // Other client commands need no parallelism of their own.
        other => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(tilannekuva::cli::run(other)),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    for (flag, set) in [
        ("--auth-file", args.auth_file.is_some()),
        ("--nats-url", args.nats_url.is_some()),
        ("--follow", args.follow.is_some()),
    ] {
        if set {
            bail!("{flag} is not supported by this build yet (see the open issues)");
        }
    }
    let read = |p: &Option<std::path::PathBuf>, bundled: &str| -> anyhow::Result<String> {
        match p {
            Some(p) => {
                std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
            }
            None => Ok(bundled.to_owned()),
        }
    };
    let catalog = Catalog::from_csv(
        &read(&args.region_catalog, BUNDLED_REGIONS)?,
        &read(&args.indicator_catalog, BUNDLED_INDICATORS)?,
    )
    .context("invalid catalog")?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.clone();
    let core = tokio::task::spawn_blocking(move || Core::open(&data_dir, &catalog)).await??;
    if args.demo {
        core.load_demo().await?;
    }
    let grpc = tokio::net::TcpListener::bind(args.grpc_listen)
        .await
        .with_context(|| format!("cannot listen on {} (gRPC)", args.grpc_listen))?;
    let http = tokio::net::TcpListener::bind(args.http_listen)
        .await
        .with_context(|| format!("cannot listen on {} (HTTP)", args.http_listen))?;
    tracing::info!(grpc = %grpc.local_addr()?, http = %http.local_addr()?, data_dir = %args.data_dir.display(), "tilannekuva listening");
    run(&core, grpc, http, shutdown_signal()).await?;
    tracing::info!("shutting down");
    tokio::task::spawn_blocking(move || core.shutdown()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
