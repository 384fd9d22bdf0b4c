//! What the streaming calls (SubmitStream, ReadEvents) share: a bounded number of open
//! streams (in all and per caller), their end at shutdown or when a reload revokes their token, and the channel
//! that feeds them.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::watch;
use tonic::Status;

use crate::auth::Auth;
use crate::shares::{Caller, Pool, Share};

pub(crate) type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// What every streaming call needs.
#[derive(Clone)]
pub(crate) struct Streams {
    pub(crate) auth: Arc<Auth>,
    /// Open streams, shared by every streaming call, within each caller's share.
    pool: Arc<Pool>,
    /// Becomes true when the server shuts down: open streams end so shutdown completes.
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl Streams {
    pub(crate) fn new(
        auth: Arc<Auth>,
        pool: Arc<Pool>,
        shutdown: watch::Receiver<bool>,
    ) -> Streams {
        Streams {
            auth,
            pool,
            shutdown,
        }
    }
}

/// The end of a stream whose token a reload of the auth file revoked or changed.
pub(crate) fn revoked() -> Status {
    Status::unauthenticated(
        "the token of this stream was revoked or changed by a reload of the auth file",
    )
}

/// A slot for one open stream of the request's caller, or `RESOURCE_EXHAUSTED`.
pub(crate) fn stream_permit<T>(
    streams: &Streams,
    request: &tonic::Request<T>,
) -> Result<Share, Status> {
    let caller = request
        .extensions()
        .get::<Caller>()
        // Every request to a service passes the gate, which inserts it.
        .ok_or_else(|| Status::internal("request did not pass the gate"))?;
    Ok(streams.pool.take(caller)?)
}

/// Resolves once the shutdown flag is set (never, if the flag's sender is gone).
pub(crate) async fn stopping(rx: &mut watch::Receiver<bool>) {
    loop {
        if *rx.borrow_and_update() {
            return;
        }
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// A stream fed by a task through a small bounded channel (backpressure: the task waits
/// while the client is slow).
pub(crate) fn async_stream_of<T, F, Fut>(f: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: FnOnce(tokio::sync::mpsc::Sender<Result<T, Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(f(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
