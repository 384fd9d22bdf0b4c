//! Fair shares of the work in progress: pools bounded in total and per caller, so that one
//! caller's flood of slow or waiting requests takes at most its share and everyone else is
//! still served. Reads, writes and open streams each have a pool of their own (writes have
//! slots reads cannot take); `limits` has the bounds with their reasons.
//!
//! A caller is a token's name; without an auth file (every request the same anonymous
//! principal) it is the peer address, so that one local process cannot take every slot
//! from another either.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::auth::{Auth, Principal, Unauthenticated};
use crate::connection::Conn;
use crate::limits;
use crate::metrics::Metrics;

/// Who a request counts against (see the module doc), put into the request's extensions
/// by the gate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Caller(pub(crate) Arc<str>);

impl Caller {
    /// A request's token, read as every port reads it (the gRPC gate, the open data,
    /// `/metrics`): the principal and the caller it counts against; the connection it came
    /// on now counts as authenticated.
    pub(crate) fn authenticate(
        auth: &Auth,
        headers: &http::HeaderMap,
        conn: Option<&Arc<Conn>>,
    ) -> Result<(Arc<Principal>, Caller), Unauthenticated> {
        let who = auth.authenticate(headers)?;
        if let Some(c) = conn {
            c.authenticated();
        }
        let caller = match (who.is_anonymous(), conn) {
            (true, Some(c)) => Caller(format!("address {}", c.peer()).into()),
            _ => Caller(format!("token {}", who.name).into()),
        };
        Ok((who, caller))
    }
}

/// One pool (see the module doc).
pub(crate) struct Pool {
    /// The pool's name, the `reason` label of a refusal (and, with `_per_caller`, of a
    /// refusal for the caller's share).
    name: &'static str,
    per_caller_reason: &'static str,
    max: usize,
    max_per_caller: usize,
    taken: Mutex<Taken>,
    refused: prometheus::IntCounterVec,
}

#[derive(Default)]
struct Taken {
    total: usize,
    callers: HashMap<Arc<str>, usize>,
}

/// A slot taken from a pool, given back when dropped.
pub(crate) struct Share {
    pool: Arc<Pool>,
    caller: Arc<str>,
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut t = self.pool.taken.lock();
        t.total -= 1;
        if let Some(n) = t.callers.get_mut(&self.caller) {
            *n -= 1;
            if *n == 0 {
                t.callers.remove(&self.caller);
            }
        }
    }
}

/// Why a pool refused a slot, as the answer says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused(pub(crate) String);

impl From<Refused> for tonic::Status {
    fn from(r: Refused) -> tonic::Status {
        tonic::Status::resource_exhausted(r.0)
    }
}

impl Pool {
    fn new(
        metrics: &Metrics,
        name: &'static str,
        per_caller_reason: &'static str,
        max: usize,
        max_per_caller: usize,
    ) -> Arc<Pool> {
        let refused = metrics.requests_refused.clone();
        refused.with_label_values(&[name]);
        refused.with_label_values(&[per_caller_reason]);
        Arc::new(Pool {
            name,
            per_caller_reason,
            max,
            max_per_caller,
            taken: Mutex::default(),
            refused,
        })
    }

    /// A slot for `caller`, or why not (counted).
    pub(crate) fn take(self: &Arc<Self>, caller: &Caller) -> Result<Share, Refused> {
        let mut t = self.taken.lock();
        let mine = t.callers.get(&caller.0).copied().unwrap_or(0);
        let refused = if mine >= self.max_per_caller {
            Some((
                self.per_caller_reason,
                format!(
                    "this caller has {mine} {} in progress, its share (at most {}); retry with \
                     backoff once some have finished",
                    self.name, self.max_per_caller
                ),
            ))
        } else if t.total >= self.max {
            Some((
                self.name,
                format!(
                    "the server has too many {} in progress (at most {}); retry with backoff",
                    self.name, self.max
                ),
            ))
        } else {
            None
        };
        if let Some((reason, message)) = refused {
            drop(t);
            self.refused.with_label_values(&[reason]).inc();
            return Err(Refused(message));
        }
        t.total += 1;
        *t.callers.entry(caller.0.clone()).or_default() += 1;
        Ok(Share {
            pool: self.clone(),
            caller: caller.0.clone(),
        })
    }
}

/// The server's pools.
#[derive(Clone)]
pub(crate) struct Shares {
    /// Read requests in progress: gRPC reads and the open data.
    pub(crate) reads: Arc<Pool>,
    /// Write requests in progress.
    pub(crate) writes: Arc<Pool>,
    /// Open streams (`ReadEvents`, `SubmitStream`).
    pub(crate) streams: Arc<Pool>,
    /// Health `Watch` streams.
    pub(crate) health: Arc<Pool>,
}

impl Shares {
    pub(crate) fn new(metrics: &Metrics) -> Shares {
        Shares {
            reads: Pool::new(
                metrics,
                "reads",
                "reads_per_caller",
                limits::MAX_READ_REQUESTS,
                limits::MAX_READS_PER_CALLER,
            ),
            writes: Pool::new(
                metrics,
                "writes",
                "writes_per_caller",
                limits::MAX_WRITE_REQUESTS,
                limits::MAX_WRITES_PER_CALLER,
            ),
            streams: Pool::new(
                metrics,
                "streams",
                "streams_per_caller",
                limits::MAX_OPEN_STREAMS,
                limits::MAX_STREAMS_PER_CALLER,
            ),
            health: Pool::new(
                metrics,
                "health_watches",
                "health_watches_per_caller",
                limits::MAX_HEALTH_REQUESTS,
                limits::MAX_HEALTH_REQUESTS / 4,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_takes_at_most_its_share_and_the_rest_stays_for_the_others() {
        let m = Metrics::new();
        let pool = Pool::new(&m, "reads", "reads_per_caller", 5, 3);
        let (a, b) = (Caller("a".into()), Caller("b".into()));
        let mine: Vec<Share> = (0..3).map(|_| pool.take(&a).unwrap()).collect();
        let refused = pool.take(&a).err().unwrap();
        assert!(refused.0.contains("its share (at most 3)"), "{refused:?}");
        let theirs: Vec<Share> = (0..2).map(|_| pool.take(&b).unwrap()).collect();
        let refused = pool.take(&b).err().unwrap();
        assert!(refused.0.contains("too many reads"), "{refused:?}");
        drop(mine);
        assert!(pool.take(&b).is_ok());
        let count = |r: &str| m.requests_refused.with_label_values(&[r]).get();
        assert_eq!((count("reads_per_caller"), count("reads")), (1, 1));
        drop(theirs);
        assert_eq!(pool.taken.lock().callers.len(), 0, "no caller left behind");
    }
}
