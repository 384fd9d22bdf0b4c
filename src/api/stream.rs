//! What the streaming calls (SubmitStream, ReadEvents) share: a bounded number of open
//! streams, their end at shutdown or when a reload revokes their token, and the channel
//! that feeds them.

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::watch;
use tonic::Status;

use crate::auth::Auth;

pub(crate) type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// What every streaming call needs.
#[derive(Clone)]
pub(crate) struct Streams {
    pub(crate) auth: Arc<Auth>,
    /// Permits for open streams, shared by every streaming call.
    permits: Arc<tokio::sync::Semaphore>,
    /// Becomes true when the server shuts down: open streams end so shutdown completes.
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl Streams {
    pub(crate) fn new(auth: Arc<Auth>, shutdown: watch::Receiver<bool>) -> Streams {
        Streams {
            auth,
            permits: Arc::new(tokio::sync::Semaphore::new(crate::limits::MAX_OPEN_STREAMS)),
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

/// A permit for one open stream, or `RESOURCE_EXHAUSTED`.
pub(crate) fn stream_permit(
    streams: &Streams,
) -> Result<tokio::sync::OwnedSemaphorePermit, Status> {
    streams.permits.clone().try_acquire_owned().map_err(|_| {
        Status::resource_exhausted(format!(
            "too many open streams (at most {}); retry later",
            crate::limits::MAX_OPEN_STREAMS
        ))
    })
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
