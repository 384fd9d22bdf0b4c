//! tilannekuva — an event-sourced service for Finland's national situation picture of
//! regional development (docs/architecture.md has the whole design).
//!
//! Where each step lives:
//!
//! | step | module |
//! |---|---|
//! | validate (pure rules) | `domain` (`validate`, `catalog`, `event`, `stats`) |
//! | decide (one file per kind of request) | `write::decide` |
//! | append (group commit, durable before the answer) | `write::commit`, `store` |
//! | fold (the in-memory projection, as-of points) | `projection`; at start `recovery`, `snapshot` |
//! | read (every picture read, transport-neutral) | `read` |
//! | serve (thin adapters) | `api` (gRPC), `http` (health, `/metrics`, TLS, open data) |
//!
//! Around them: `server` wires them together; `replication` publishes the log to NATS
//! JetStream and follows it on read replicas; `metrics`, `auth`, `limits` (with `connection` and `shares`, which enforce them); `cli` is the
//! command line (`main` only parses it and starts a runtime).
//!
//! The public surface is what the binary, the integration tests and the benchmarks use:
//! the modules marked `pub` below, and within them only the items marked `pub` (the
//! server's core and options, the store's log and chunk format, the domain's catalog and
//! events, the write state and requests, the projection, the CSV reader, the generated
//! protobuf code and its conversions, the NATS helpers the replication tests call). Every
//! other item is `pub(crate)`, so the compiler reports what nothing uses.

#![forbid(unsafe_code)]

// Used by the binary, the integration tests or the benchmarks.
pub mod api;
pub mod auth;
pub mod cli;
pub mod csvin;
pub mod demo;
pub mod domain;
pub mod limits;
pub mod projection;
pub mod replication;
pub mod server;
pub mod store;
pub mod write;

// The crate's own.
pub(crate) mod connection;
pub(crate) mod http;
pub(crate) mod metrics;
pub(crate) mod read;
pub(crate) mod recovery;
pub(crate) mod shares;
pub(crate) mod snapshot;
pub(crate) mod table;

/// The generated gRPC code of `proto/tilannekuva/v1`.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("tilannekuva.v1");

    /// The file descriptor set, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("tilannekuva_descriptor");
}
