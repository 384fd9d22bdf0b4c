//! tilannekuva — an event-sourced service for Finland's national situation picture of
//! regional development. See docs/architecture.md for the architecture:
//! `domain` (pure logic) → `write` (decisions, group commit) → `store` (sled log) →
//! `projection` (in-memory fold, as-of reads) → `api` (gRPC) and `metrics` (HTTP);
//! `replication` publishes the log to NATS JetStream and follows it on read replicas.

#![forbid(unsafe_code)]

pub mod api;
pub mod auth;
pub mod cli;
pub mod csvin;
pub mod demo;
pub mod domain;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod projection;
pub(crate) mod read;
pub(crate) mod recovery;
pub mod replication;
pub mod server;
pub mod snapshot;
pub mod store;
pub mod write;

/// The generated gRPC code of `proto/tilannekuva/v1`.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("tilannekuva.v1");

    /// The file descriptor set, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("tilannekuva_descriptor");
}
