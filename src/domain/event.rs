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

use super::areas::{Division, Municipality};
use super::catalog::{
    Aggregation, Direction, Indicator, IndicatorKind, Region, RegionGroup, Round, Target, Theme,
};

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
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Provisional => "provisional",
            Status::Final => "final",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Status> {
        match s.trim().to_ascii_lowercase().as_str() {
            "provisional" | "preliminary" => Some(Status::Provisional),
            "final" => Some(Status::Final),
            _ => None,
        }
    }
}

/// One yearly value for one indicator of one area, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub indicator_id: String,
    pub year: i32,
    pub value: f64,
    pub status: Status,
    pub source: String,
    pub note: String,
    pub correction_reason: String,
    /// The division (its year) whose borders the figure is on; `None`: not stated (the
    /// catalog had no division when it was recorded, or it was recorded before borders were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borders: Option<i32>,
    /// When its publisher published the figure (microseconds since the Unix epoch): the
    /// release's `updated` time of an official table. `None`: published when recorded.
    /// Reads "as published by" an instant take the figures published by then, whatever
    /// day they were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_micros: Option<i64>,
}

impl Observation {
    /// When the figure was published: its release's time, else when it was recorded.
    pub(crate) fn published_or(&self, recorded_at_micros: i64) -> i64 {
        self.published_micros.unwrap_or(recorded_at_micros)
    }
}

/// What an event records.
///
/// # Encoding
///
/// The store and the hash chain use postcard (not human-readable); JSON exports use the
/// plain shape of this enum. In postcard an indicator definition that the first format
/// could express (kind `Observed`, with a `max_year`) is written exactly as that format
/// wrote it (variant 2), and any other as variant 4 with every field; new payloads take new
/// variant numbers. So every event ever written decodes and hashes as it did when it was
/// written, and no store needs rewriting. See [`wire`].
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    ObservationRecorded(Observation),
    ObservationRetracted {
        indicator_id: String,
        year: i32,
        reason: String,
        /// The borders of the retracted figure (see [`Observation::borders`]).
        borders: Option<i32>,
    },
    IndicatorDefined(Indicator),
    RegionDefined(Region),
    /// Closes a submission in which some observations were equal to their cells' current
    /// value and status and so were not recorded: it keeps the submission's receipt and its
    /// idempotency digest in the log.
    SubmissionSummary {
        /// Observations in the submission, recorded or not.
        observations: u32,
        /// Observations equal to their cell's current value and status (not recorded).
        unchanged: u32,
        /// The submission's content digest (the idempotency key's content check).
        content_digest: Hash,
    },
    /// A peer group defined, or redefined (the same id: the new members from here on).
    GroupDefined(RegionGroup),
    /// A reporting round opened, or reopened (the same year: its new terms from here on).
    RoundOpened(Round),
    /// A municipality defined, or redefined (the same code: its new placements from here on).
    MunicipalityDefined(Municipality),
    /// A division defined, or its source restated.
    DivisionDefined(Division),
    /// A target set, or restated (the same area, indicator and year: its new value and
    /// source from here on).
    TargetSet(Target),
}

/// The postcard shape of [`Payload`]: variant numbers are the wire format, so variants are
/// only ever appended.
mod wire {
    use super::*;

    /// An indicator as format 1 wrote it (no kind; a mandatory last year).
    #[derive(Serialize)]
    pub(super) struct IndicatorV1Ref<'a> {
        id: &'a str,
        name_fi: &'a str,
        name_en: &'a str,
        theme: Theme,
        unit: &'a str,
        decimals: u32,
        direction: Direction,
        min_value: Option<f64>,
        max_value: Option<f64>,
        aggregation: &'a Aggregation,
        min_year: i32,
        max_year: i32,
    }

    #[derive(Deserialize)]
    pub(super) struct IndicatorV1 {
        id: String,
        name_fi: String,
        name_en: String,
        theme: Theme,
        unit: String,
        decimals: u32,
        direction: Direction,
        min_value: Option<f64>,
        max_value: Option<f64>,
        aggregation: Aggregation,
        min_year: i32,
        max_year: i32,
    }

    /// A region as format 1 wrote it (no years in force).
    #[derive(Serialize)]
    pub(super) struct RegionV1Ref<'a> {
        code: &'a str,
        statfin_code: &'a str,
        name_fi: &'a str,
        name_sv: &'a str,
        name_en: &'a str,
        nuts3: &'a str,
    }

    /// An observation as format 1 wrote it (no borders).
    #[derive(Serialize)]
    pub(super) struct ObservationV1Ref<'a> {
        indicator_id: &'a str,
        year: i32,
        value: f64,
        status: Status,
        source: &'a str,
        note: &'a str,
        correction_reason: &'a str,
    }

    impl<'a> From<&'a Observation> for ObservationV1Ref<'a> {
        fn from(o: &'a Observation) -> Self {
            ObservationV1Ref {
                indicator_id: &o.indicator_id,
                year: o.year,
                value: o.value,
                status: o.status,
                source: &o.source,
                note: &o.note,
                correction_reason: &o.correction_reason,
            }
        }
    }

    #[derive(Deserialize)]
    pub(super) struct ObservationV1 {
        indicator_id: String,
        year: i32,
        value: f64,
        status: Status,
        source: String,
        note: String,
        correction_reason: String,
    }

    impl ObservationV1 {
        fn on(self, borders: Option<i32>, published_micros: Option<i64>) -> Observation {
            Observation {
                indicator_id: self.indicator_id,
                year: self.year,
                value: self.value,
                status: self.status,
                source: self.source,
                note: self.note,
                correction_reason: self.correction_reason,
                borders,
                published_micros,
            }
        }
    }

    #[derive(Deserialize)]
    pub(super) struct RegionV1 {
        code: String,
        statfin_code: String,
        name_fi: String,
        name_sv: String,
        name_en: String,
        nuts3: String,
    }

    #[derive(Serialize)]
    pub(super) enum Ref<'a> {
        ObservationRecorded(ObservationV1Ref<'a>),
        ObservationRetracted {
            indicator_id: &'a str,
            year: i32,
            reason: &'a str,
        },
        IndicatorDefined(IndicatorV1Ref<'a>),
        RegionDefined(RegionV1Ref<'a>),
        IndicatorDefinedExt(&'a Indicator),
        SubmissionSummary {
            observations: u32,
            unchanged: u32,
            content_digest: &'a Hash,
        },
        GroupDefined(&'a RegionGroup),
        RoundOpened(&'a Round),
        /// A region with the years it was in force (variant 8).
        RegionDefinedExt(&'a Region),
        /// An observation on stated borders (variant 9).
        ObservationRecordedOn {
            observation: ObservationV1Ref<'a>,
            borders: i32,
        },
        /// A retraction on stated borders (variant 10).
        ObservationRetractedOn {
            indicator_id: &'a str,
            year: i32,
            reason: &'a str,
            borders: i32,
        },
        MunicipalityDefined(&'a Municipality),
        DivisionDefined(&'a Division),
        /// An observation with the time its publisher published it (variant 13).
        ObservationPublished {
            observation: ObservationV1Ref<'a>,
            borders: Option<i32>,
            published_micros: i64,
        },
        /// A target (variant 14).
        TargetSet(&'a Target),
    }

    #[derive(Deserialize)]
    pub(super) enum Owned {
        ObservationRecorded(ObservationV1),
        ObservationRetracted {
            indicator_id: String,
            year: i32,
            reason: String,
        },
        IndicatorDefined(IndicatorV1),
        RegionDefined(RegionV1),
        IndicatorDefinedExt(Indicator),
        SubmissionSummary {
            observations: u32,
            unchanged: u32,
            content_digest: Hash,
        },
        GroupDefined(RegionGroup),
        RoundOpened(Round),
        RegionDefinedExt(Region),
        ObservationRecordedOn {
            observation: ObservationV1,
            borders: i32,
        },
        ObservationRetractedOn {
            indicator_id: String,
            year: i32,
            reason: String,
            borders: i32,
        },
        MunicipalityDefined(Municipality),
        DivisionDefined(Division),
        ObservationPublished {
            observation: ObservationV1,
            borders: Option<i32>,
            published_micros: i64,
        },
        TargetSet(Target),
    }

    impl<'a> From<&'a Payload> for Ref<'a> {
        fn from(p: &'a Payload) -> Ref<'a> {
            match p {
                // Without borders, as format 1 wrote it.
                Payload::ObservationRecorded(o) => match (o.borders, o.published_micros) {
                    (None, None) => Ref::ObservationRecorded(o.into()),
                    (Some(borders), None) => Ref::ObservationRecordedOn {
                        observation: o.into(),
                        borders,
                    },
                    (borders, Some(published_micros)) => Ref::ObservationPublished {
                        observation: o.into(),
                        borders,
                        published_micros,
                    },
                },
                Payload::ObservationRetracted {
                    indicator_id,
                    year,
                    reason,
                    borders: None,
                } => Ref::ObservationRetracted {
                    indicator_id,
                    year: *year,
                    reason,
                },
                Payload::ObservationRetracted {
                    indicator_id,
                    year,
                    reason,
                    borders: Some(borders),
                } => Ref::ObservationRetractedOn {
                    indicator_id,
                    year: *year,
                    reason,
                    borders: *borders,
                },
                Payload::IndicatorDefined(i) => match (i.kind, i.max_year) {
                    (IndicatorKind::Observed, Some(max_year)) => {
                        Ref::IndicatorDefined(IndicatorV1Ref {
                            id: &i.id,
                            name_fi: &i.name_fi,
                            name_en: &i.name_en,
                            theme: i.theme,
                            unit: &i.unit,
                            decimals: i.decimals,
                            direction: i.direction,
                            min_value: i.min_value,
                            max_value: i.max_value,
                            aggregation: &i.aggregation,
                            min_year: i.min_year,
                            max_year,
                        })
                    }
                    _ => Ref::IndicatorDefinedExt(i),
                },
                // A region without years in force is written as format 1 wrote it.
                Payload::RegionDefined(r) => match (r.first_year, r.last_year) {
                    (None, None) => Ref::RegionDefined(RegionV1Ref {
                        code: &r.code,
                        statfin_code: &r.statfin_code,
                        name_fi: &r.name_fi,
                        name_sv: &r.name_sv,
                        name_en: &r.name_en,
                        nuts3: &r.nuts3,
                    }),
                    _ => Ref::RegionDefinedExt(r),
                },
                Payload::SubmissionSummary {
                    observations,
                    unchanged,
                    content_digest,
                } => Ref::SubmissionSummary {
                    observations: *observations,
                    unchanged: *unchanged,
                    content_digest,
                },
                Payload::GroupDefined(g) => Ref::GroupDefined(g),
                Payload::RoundOpened(r) => Ref::RoundOpened(r),
                Payload::MunicipalityDefined(m) => Ref::MunicipalityDefined(m),
                Payload::DivisionDefined(d) => Ref::DivisionDefined(d),
                Payload::TargetSet(t) => Ref::TargetSet(t),
            }
        }
    }

    impl From<Owned> for Payload {
        fn from(p: Owned) -> Payload {
            match p {
                Owned::ObservationRecorded(o) => Payload::ObservationRecorded(o.on(None, None)),
                Owned::ObservationRecordedOn {
                    observation,
                    borders,
                } => Payload::ObservationRecorded(observation.on(Some(borders), None)),
                Owned::ObservationPublished {
                    observation,
                    borders,
                    published_micros,
                } => Payload::ObservationRecorded(observation.on(borders, Some(published_micros))),
                Owned::ObservationRetracted {
                    indicator_id,
                    year,
                    reason,
                } => Payload::ObservationRetracted {
                    indicator_id,
                    year,
                    reason,
                    borders: None,
                },
                Owned::ObservationRetractedOn {
                    indicator_id,
                    year,
                    reason,
                    borders,
                } => Payload::ObservationRetracted {
                    indicator_id,
                    year,
                    reason,
                    borders: Some(borders),
                },
                Owned::IndicatorDefined(i) => Payload::IndicatorDefined(Indicator {
                    id: i.id,
                    name_fi: i.name_fi,
                    name_en: i.name_en,
                    theme: i.theme,
                    unit: i.unit,
                    decimals: i.decimals,
                    direction: i.direction,
                    min_value: i.min_value,
                    max_value: i.max_value,
                    aggregation: i.aggregation,
                    min_year: i.min_year,
                    max_year: Some(i.max_year),
                    kind: IndicatorKind::Observed,
                }),
                Owned::RegionDefined(r) => Payload::RegionDefined(Region {
                    code: r.code,
                    statfin_code: r.statfin_code,
                    name_fi: r.name_fi,
                    name_sv: r.name_sv,
                    name_en: r.name_en,
                    nuts3: r.nuts3,
                    first_year: None,
                    last_year: None,
                }),
                Owned::RegionDefinedExt(r) => Payload::RegionDefined(r),
                Owned::IndicatorDefinedExt(i) => Payload::IndicatorDefined(i),
                Owned::SubmissionSummary {
                    observations,
                    unchanged,
                    content_digest,
                } => Payload::SubmissionSummary {
                    observations,
                    unchanged,
                    content_digest,
                },
                Owned::GroupDefined(g) => Payload::GroupDefined(g),
                Owned::RoundOpened(r) => Payload::RoundOpened(r),
                Owned::MunicipalityDefined(m) => Payload::MunicipalityDefined(m),
                Owned::DivisionDefined(d) => Payload::DivisionDefined(d),
                Owned::TargetSet(t) => Payload::TargetSet(t),
            }
        }
    }

    /// The JSON shape: the enum as it reads (a digest in hex).
    #[derive(Serialize, Deserialize)]
    pub(super) enum Json {
        ObservationRecorded(Observation),
        ObservationRetracted {
            indicator_id: String,
            year: i32,
            reason: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            borders: Option<i32>,
        },
        IndicatorDefined(Indicator),
        RegionDefined(Region),
        SubmissionSummary {
            observations: u32,
            unchanged: u32,
            content_digest: String,
        },
        GroupDefined(RegionGroup),
        RoundOpened(Round),
        MunicipalityDefined(Municipality),
        DivisionDefined(Division),
        TargetSet(Target),
    }
}

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if !s.is_human_readable() {
            return wire::Ref::from(self).serialize(s);
        }
        let json = match self.clone() {
            Payload::ObservationRecorded(o) => wire::Json::ObservationRecorded(o),
            Payload::ObservationRetracted {
                indicator_id,
                year,
                reason,
                borders,
            } => wire::Json::ObservationRetracted {
                indicator_id,
                year,
                reason,
                borders,
            },
            Payload::IndicatorDefined(i) => wire::Json::IndicatorDefined(i),
            Payload::RegionDefined(r) => wire::Json::RegionDefined(r),
            Payload::SubmissionSummary {
                observations,
                unchanged,
                content_digest,
            } => wire::Json::SubmissionSummary {
                observations,
                unchanged,
                content_digest: hex::encode(content_digest),
            },
            Payload::GroupDefined(g) => wire::Json::GroupDefined(g),
            Payload::RoundOpened(r) => wire::Json::RoundOpened(r),
            Payload::MunicipalityDefined(m) => wire::Json::MunicipalityDefined(m),
            Payload::DivisionDefined(d) => wire::Json::DivisionDefined(d),
            Payload::TargetSet(t) => wire::Json::TargetSet(t),
        };
        json.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Payload, D::Error> {
        if !d.is_human_readable() {
            return wire::Owned::deserialize(d).map(Payload::from);
        }
        Ok(match wire::Json::deserialize(d)? {
            wire::Json::ObservationRecorded(o) => Payload::ObservationRecorded(o),
            wire::Json::ObservationRetracted {
                indicator_id,
                year,
                reason,
                borders,
            } => Payload::ObservationRetracted {
                indicator_id,
                year,
                reason,
                borders,
            },
            wire::Json::IndicatorDefined(i) => Payload::IndicatorDefined(i),
            wire::Json::RegionDefined(r) => Payload::RegionDefined(r),
            wire::Json::SubmissionSummary {
                observations,
                unchanged,
                content_digest,
            } => Payload::SubmissionSummary {
                observations,
                unchanged,
                content_digest: hex::decode(&content_digest)
                    .ok()
                    .and_then(|b| Hash::try_from(b).ok())
                    .ok_or_else(|| {
                        serde::de::Error::custom("content_digest must be 64 hex digits")
                    })?,
            },
            wire::Json::GroupDefined(g) => Payload::GroupDefined(g),
            wire::Json::RoundOpened(r) => Payload::RoundOpened(r),
            wire::Json::MunicipalityDefined(m) => Payload::MunicipalityDefined(m),
            wire::Json::DivisionDefined(d) => Payload::DivisionDefined(d),
            wire::Json::TargetSet(t) => Payload::TargetSet(t),
        })
    }
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

/// `SHA-256(prev ‖ postcard(value))`: the step of the hash chain and of a submission's
/// content digest. The value is encoded into a buffer of the thread's and hashed in one
/// pass (hashing postcard's many small writes one by one costs more than the encoding).
pub(crate) fn chained_hash(prev: &Hash, value: &impl Serialize) -> Hash {
    thread_local! {
        static BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUFFER.with(|b| {
        let mut buf = b.take();
        buf.clear();
        // Serialising plain data into a vector cannot fail.
        buf = postcard::to_extend(value, buf).expect("postcard encodes plain data");
        let mut h = Sha256::new();
        h.update(prev);
        h.update(&buf);
        // A rare huge event's buffer is not kept.
        if buf.capacity() <= 64 * 1024 {
            b.replace(buf);
        }
        h.finalize().into()
    })
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
        chained_hash(&self.prev_hash, &canonical)
    }

    /// Sets `prev_hash` and `hash`, chaining this event after `prev`.
    pub fn seal(&mut self, prev: Hash) {
        self.prev_hash = prev;
        self.hash = self.compute_hash();
    }

    /// The cell (indicator, year, borders) this event touches, if it is an observation
    /// event.
    pub fn cell(&self) -> Option<(&str, i32, Option<i32>)> {
        match &self.payload {
            Payload::ObservationRecorded(o) => Some((&o.indicator_id, o.year, o.borders)),
            Payload::ObservationRetracted {
                indicator_id,
                year,
                borders,
                ..
            } => Some((indicator_id, *year, *borders)),
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
    pub(crate) sequence: u64,
    pub(crate) reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IndicatorKind;

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
                borders: None,
                published_micros: None,
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

    /// A chunk holding one indicator definition, as format 1 (before indicator kinds and
    /// open year ranges) wrote it, and that event's hash, both produced by that code.
    const FORMAT_1_CHUNK: &str = "01078080f2818389850600000673797374656d11636174616c6f672d626f6f7473747261700217756e656d706c6f796d656e745f726174655f31355f37341a5479c3b67474c3b66d7979736173746520283135e2809337342911556e656d706c6f796d656e74207261746502012501010100000000000000000100000000000059400210756e656d706c6f7965645f31355f3734126c61626f75725f666f7263655f31355f373400000000000059408c1fe82001010101010101010101010101010101010101010101010101010101010101010de293e4af7da49e2720d35c4a9998bbaef7e1126f8daff2034d77c60ad9240b";
    const FORMAT_1_HASH: &str = "0de293e4af7da49e2720d35c4a9998bbaef7e1126f8daff2034d77c60ad9240b";

    #[test]
    fn a_publication_time_takes_its_own_variant_and_round_trips() {
        let plain = ev(1, 5.0);
        let plain_bytes = postcard::to_allocvec(&plain).unwrap();
        for borders in [None, Some(2021)] {
            let mut e = plain.clone();
            if let Payload::ObservationRecorded(o) = &mut e.payload {
                o.borders = borders;
                o.published_micros = Some(1_620_814_500_000_000);
            }
            let bytes = postcard::to_allocvec(&e).unwrap();
            assert_ne!(bytes, plain_bytes);
            assert_eq!(postcard::from_bytes::<Event>(&bytes).unwrap(), e);
            let json = serde_json::to_string(&e).unwrap();
            assert!(json.contains("\"published_micros\":1620814500000000"));
            assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), e);
            assert_ne!(e.compute_hash(), plain.compute_hash());
        }
        // Without one, an observation is written as before (no new field in its JSON).
        assert!(!serde_json::to_string(&plain).unwrap().contains("published"));
    }

    #[test]
    fn events_written_before_indicator_kinds_decode_and_hash_as_written() {
        let bytes = hex::decode(FORMAT_1_CHUNK).unwrap();
        let events: Vec<Event> = postcard::from_bytes(&bytes).unwrap();
        let Payload::IndicatorDefined(ind) = &events[0].payload else {
            panic!("an indicator definition")
        };
        assert_eq!(
            (ind.max_year, ind.kind),
            (Some(2100), IndicatorKind::Observed)
        );
        assert_eq!(hex::encode(events[0].compute_hash()), FORMAT_1_HASH);
        assert_eq!(hex::encode(events[0].hash), FORMAT_1_HASH);
        // Written again, it is the same bytes.
        assert_eq!(postcard::to_allocvec(&events).unwrap(), bytes);
        // An open-ended or forecast indicator takes the new variant and round-trips.
        for (max_year, kind) in [
            (None, IndicatorKind::Observed),
            (Some(2070), IndicatorKind::Forecast),
        ] {
            let mut e = events[0].clone();
            if let Payload::IndicatorDefined(i) = &mut e.payload {
                i.max_year = max_year;
                i.kind = kind;
            }
            e.seal([1; 32]);
            assert_ne!(hex::encode(e.hash), FORMAT_1_HASH);
            let back: Vec<Event> =
                postcard::from_bytes(&postcard::to_allocvec(&vec![e.clone()]).unwrap()).unwrap();
            assert_eq!(back, vec![e.clone()]);
            assert_eq!(back[0].compute_hash(), e.hash);
            // And through JSON (exports).
            let json = serde_json::to_string(&e.payload).unwrap();
            assert_eq!(serde_json::from_str::<Payload>(&json).unwrap(), e.payload);
        }
    }

    /// A region without years is written as format 1 wrote it (variant 3; the old logs'
    /// hashes are checked by `tests/areas.rs`), one with years as variant 8; both come back
    /// as they were, through postcard and JSON.
    #[test]
    fn regions_with_years_take_a_variant_of_their_own() {
        let region = |last_year| Region {
            code: "MK03".into(),
            statfin_code: "03".into(),
            name_fi: "Itä-Uusimaa".into(),
            name_sv: "Östra Nyland".into(),
            name_en: "Itä-Uusimaa (East Uusimaa)".into(),
            nuts3: "FI182".into(),
            first_year: None,
            last_year,
        };
        for (last_year, variant) in [(None, 3), (Some(2010), 8)] {
            let mut e = ev(1, 0.0);
            e.payload = Payload::RegionDefined(region(last_year));
            e.seal(ZERO_HASH);
            assert_eq!(postcard::to_allocvec(&e.payload).unwrap()[0], variant);
            let back: Vec<Event> =
                postcard::from_bytes(&postcard::to_allocvec(&vec![e.clone()]).unwrap()).unwrap();
            assert_eq!(back, vec![e.clone()]);
            assert_eq!(back[0].compute_hash(), e.hash);
            let json = serde_json::to_string(&e.payload).unwrap();
            assert_eq!(serde_json::from_str::<Payload>(&json).unwrap(), e.payload);
        }
        // An export written before regions had years reads as a region without them.
        let old = r#"{"RegionDefined":{"code":"MK01","statfin_code":"01","name_fi":"Uusimaa","name_sv":"Nyland","name_en":"Uusimaa","nuts3":"FI1B1"}}"#;
        let Payload::RegionDefined(r) = serde_json::from_str::<Payload>(old).unwrap() else {
            panic!("a region")
        };
        assert_eq!((r.first_year, r.last_year), (None, None));
    }

    #[test]
    fn submission_summaries_round_trip() {
        let mut e = ev(3, 1.0);
        e.payload = Payload::SubmissionSummary {
            observations: 52,
            unchanged: 49,
            content_digest: [7; 32],
        };
        e.seal(ZERO_HASH);
        let back: Vec<Event> =
            postcard::from_bytes(&postcard::to_allocvec(&vec![e.clone()]).unwrap()).unwrap();
        assert_eq!(back, vec![e.clone()]);
        let json = serde_json::to_string(&e.payload).unwrap();
        assert!(json.contains(&"07".repeat(32)), "{json}");
        assert_eq!(serde_json::from_str::<Payload>(&json).unwrap(), e.payload);
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
