//! Events: the immutable facts of the log, and the hash chain over them.
//!
//! # Hash chain
//!
//! `hash = SHA-256(prev_hash ‖ canonical(event))`, where `canonical` is the postcard
//! encoding of the event's fields in declaration order without the two hash fields
//! (see [`Event::compute_hash`]). postcard's encoding is specified and deterministic, so the
//! chain can be recomputed from an export and verified by any implementation that follows
//! the postcard wire format. The first event's `prev_hash` is 32 zero bytes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::catalog::{Indicator, Region};

/// A SHA-256 digest.
pub type Hash = [u8; 32];
/// The `prev_hash` of the first event.
pub const ZERO_HASH: Hash = [0; 32];

/// Status of an observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Provisional,
    Final,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Provisional => "provisional",
            Status::Final => "final",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s.trim().to_ascii_lowercase().as_str() {
            "provisional" | "preliminary" => Some(Status::Provisional),
            "final" => Some(Status::Final),
            _ => None,
        }
    }
}

/// One yearly value for one indicator of one region, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub indicator_id: String,
    pub year: i32,
    pub value: f64,
    pub status: Status,
    pub source: String,
    pub note: String,
    pub correction_reason: String,
}

/// What an event records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Payload {
    ObservationRecorded(Observation),
    ObservationRetracted {
        indicator_id: String,
        year: i32,
        reason: String,
    },
    IndicatorDefined(Indicator),
    RegionDefined(Region),
}

/// One event of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Global, gap-free, from 1.
    pub sequence: u64,
    /// Server record time, microseconds since the Unix epoch; never decreases along the log.
    pub recorded_at_micros: i64,
    /// Empty for catalog events.
    pub region_code: String,
    /// The region's revision after this event (0 for catalog events).
    pub region_revision: u64,
    pub principal: String,
    pub submission_id: String,
    pub payload: Payload,
    pub prev_hash: Hash,
    pub hash: Hash,
}

#[derive(Serialize)]
struct Canonical<'a> {
    sequence: u64,
    recorded_at_micros: i64,
    region_code: &'a str,
    region_revision: u64,
    principal: &'a str,
    submission_id: &'a str,
    payload: &'a Payload,
}

impl Event {
    /// The hash this event must carry given its `prev_hash` and fields.
    pub fn compute_hash(&self) -> Hash {
        let canonical = Canonical {
            sequence: self.sequence,
            recorded_at_micros: self.recorded_at_micros,
            region_code: &self.region_code,
            region_revision: self.region_revision,
            principal: &self.principal,
            submission_id: &self.submission_id,
            payload: &self.payload,
        };
        let mut h = Sha256::new();
        h.update(self.prev_hash);
        // Serialising plain data into a hasher cannot fail.
        postcard::to_io(&canonical, &mut h).expect("postcard encodes plain data");
        h.finalize().into()
    }

    /// Sets `prev_hash` and `hash`, chaining this event after `prev`.
    pub fn seal(&mut self, prev: Hash) {
        self.prev_hash = prev;
        self.hash = self.compute_hash();
    }

    /// The cell (indicator, year) this event touches, if it is an observation event.
    pub fn cell(&self) -> Option<(&str, i32)> {
        match &self.payload {
            Payload::ObservationRecorded(o) => Some((&o.indicator_id, o.year)),
            Payload::ObservationRetracted {
                indicator_id, year, ..
            } => Some((indicator_id, *year)),
            _ => None,
        }
    }
}

/// Checks that `events` continue a chain whose last event had `last_seq` and `last_hash`:
/// consecutive sequences and hashes that recompute. Returns the first bad sequence.
pub fn verify_chain(last_seq: u64, last_hash: Hash, events: &[Event]) -> Result<(), ChainError> {
    let mut seq = last_seq;
    let mut prev = last_hash;
    for e in events {
        if e.sequence != seq + 1 {
            return Err(ChainError {
                sequence: e.sequence,
                reason: format!("expected sequence {}, found {}", seq + 1, e.sequence),
            });
        }
        if e.prev_hash != prev {
            return Err(ChainError {
                sequence: e.sequence,
                reason: "prev_hash does not match the previous event's hash".into(),
            });
        }
        if e.compute_hash() != e.hash {
            return Err(ChainError {
                sequence: e.sequence,
                reason: "hash does not match the event's content".into(),
            });
        }
        seq = e.sequence;
        prev = e.hash;
    }
    Ok(())
}

/// A break in the hash chain or the sequence.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("event {sequence}: {reason}")]
pub struct ChainError {
    pub sequence: u64,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: u64, value: f64) -> Event {
        Event {
            sequence: seq,
            recorded_at_micros: 1_700_000_000_000_000,
            region_code: "MK01".into(),
            region_revision: seq,
            principal: "test".into(),
            submission_id: format!("s{seq}"),
            payload: Payload::ObservationRecorded(Observation {
                indicator_id: "population".into(),
                year: 2020,
                value,
                status: Status::Final,
                source: "src".into(),
                note: String::new(),
                correction_reason: String::new(),
            }),
            prev_hash: ZERO_HASH,
            hash: ZERO_HASH,
        }
    }

    fn chain(n: u64) -> Vec<Event> {
        let mut prev = ZERO_HASH;
        (1..=n)
            .map(|s| {
                let mut e = ev(s, s as f64);
                e.seal(prev);
                prev = e.hash;
                e
            })
            .collect()
    }

    #[test]
    fn chain_verifies_and_detects_tampering() {
        let mut events = chain(5);
        assert_eq!(verify_chain(0, ZERO_HASH, &events), Ok(()));
        if let Payload::ObservationRecorded(o) = &mut events[2].payload {
            o.value = 42.0;
        }
        assert_eq!(verify_chain(0, ZERO_HASH, &events).unwrap_err().sequence, 3);
    }

    #[test]
    fn chain_detects_gaps() {
        let mut events = chain(4);
        events.remove(1);
        let err = verify_chain(0, ZERO_HASH, &events).unwrap_err();
        assert_eq!(err.sequence, 3);
        assert!(err.reason.contains("expected sequence 2"));
    }

    #[test]
    fn hash_covers_previous_hash() {
        let mut a = ev(1, 1.0);
        a.seal(ZERO_HASH);
        let mut b = ev(1, 1.0);
        b.seal([1; 32]);
        assert_ne!(a.hash, b.hash);
    }
}
