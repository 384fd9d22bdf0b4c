//! The projection: an in-memory fold of the log that answers every picture query.
//!
//! Each cell (region, indicator, year) keeps its full revision list, and the catalog keeps
//! every version of every definition, so an as-of read (by sequence or by record time) is
//! a filter over those lists — never a replay of the log. `apply` is a pure fold with no
//! I/O; applying the same events gives the same state, which is what makes a rebuild from
//! the log give byte-identical pictures.

mod picture;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use crate::domain::{Catalog, Event, Hash, Indicator, Payload, Region, Status};

pub use picture::{
    aggregation_to_proto, national_to_proto, timestamp as picture_timestamp, IndicatorYear,
    YearPicture,
};

/// One recorded change of a cell. Strings that repeat across the events of a submission
/// (principal, submission id, source) are shared, not copied per event.
#[derive(Clone, Debug, PartialEq)]
pub struct Revision {
    pub sequence: u64,
    pub recorded_at_micros: i64,
    pub principal: Arc<str>,
    pub submission_id: Arc<str>,
    pub hash: Hash,
    pub change: Change,
}

/// A recorded value of a cell (the cell's indicator and year are its key).
#[derive(Clone, Debug, PartialEq)]
pub struct CellValue {
    pub value: f64,
    pub status: Status,
    pub source: Arc<str>,
    pub note: String,
    pub correction_reason: String,
}

/// What a revision did to its cell.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Value(CellValue),
    Retracted { reason: String },
}

impl Revision {
    pub fn observation(&self) -> Option<&CellValue> {
        match &self.change {
            Change::Value(o) => Some(o),
            Change::Retracted { .. } => None,
        }
    }
}

/// Which state of the log a read answers from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    Latest,
    Sequence(u64),
    /// Microseconds since the Unix epoch: the last event recorded at or before it.
    RecordedAt(i64),
}

type Cells = HashMap<String, HashMap<String, BTreeMap<i32, Vec<Revision>>>>;

/// The projected state.
#[derive(Default)]
pub struct Projection {
    /// Last applied sequence.
    applied: u64,
    /// Every version of every region definition, by code, oldest first.
    regions: BTreeMap<String, Vec<(u64, Region)>>,
    /// Every version of every indicator definition, by id, oldest first.
    indicators: BTreeMap<String, Vec<(u64, Indicator)>>,
    /// The latest catalog, shared with readers; rebuilt when a definition changes.
    current_catalog: Arc<Catalog>,
    /// Sequence of the last catalog event: as-of reads at or after it use `current_catalog`.
    catalog_changed_at: u64,
    /// region → indicator → year → revisions (in sequence order).
    cells: Cells,
    /// Years that have at least one cell.
    years: BTreeSet<i32>,
    /// (last sequence, record time) per distinct record time, in log order; record times
    /// never decrease along the log, so this maps an instant to a sequence by bisection.
    times: Vec<(u64, i64)>,
    /// The last shared strings (principal, submission id, source), reused while they repeat.
    interned: [Arc<str>; 3],
}

/// Returns `cache` if it equals `s`, else a new shared string (which becomes the cache).
fn intern(cache: &mut Arc<str>, s: &str) -> Arc<str> {
    if &**cache != s {
        *cache = Arc::from(s);
    }
    cache.clone()
}

impl Projection {
    pub fn new() -> Projection {
        Projection::default()
    }

    /// Last applied sequence.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Applies one event. Events must come in sequence order, each exactly once.
    pub fn apply(&mut self, e: &Event) {
        debug_assert_eq!(e.sequence, self.applied + 1, "events applied in order");
        self.applied = e.sequence;
        match self.times.last_mut() {
            Some((seq, t)) if *t == e.recorded_at_micros => *seq = e.sequence,
            _ => self.times.push((e.sequence, e.recorded_at_micros)),
        }
        let change = match &e.payload {
            Payload::RegionDefined(r) => {
                self.regions
                    .entry(r.code.clone())
                    .or_default()
                    .push((e.sequence, r.clone()));
                self.current_catalog = Arc::new(self.build_catalog(u64::MAX));
                self.catalog_changed_at = e.sequence;
                return;
            }
            Payload::IndicatorDefined(i) => {
                self.indicators
                    .entry(i.id.clone())
                    .or_default()
                    .push((e.sequence, i.clone()));
                self.current_catalog = Arc::new(self.build_catalog(u64::MAX));
                self.catalog_changed_at = e.sequence;
                return;
            }
            Payload::ObservationRecorded(o) => Change::Value(CellValue {
                value: o.value,
                status: o.status,
                source: intern(&mut self.interned[2], &o.source),
                note: o.note.clone(),
                correction_reason: o.correction_reason.clone(),
            }),
            Payload::ObservationRetracted { reason, .. } => Change::Retracted {
                reason: reason.clone(),
            },
            // Bookkeeping of the write side (a submission's unchanged observations): no
            // cell changes.
            Payload::SubmissionSummary { .. } => return,
        };
        // Observation events always name a cell.
        let (indicator, year) = e.cell().expect("observation events have a cell");
        self.years.insert(year);
        // Look up before inserting: the region and indicator keys almost always exist, and
        // `entry` would allocate their owned keys on every event.
        if !self.cells.contains_key(&e.region_code) {
            self.cells.insert(e.region_code.clone(), HashMap::new());
        }
        let by_indicator = self.cells.get_mut(&e.region_code).expect("inserted above");
        if !by_indicator.contains_key(indicator) {
            by_indicator.insert(indicator.to_owned(), BTreeMap::new());
        }
        by_indicator
            .get_mut(indicator)
            .expect("inserted above")
            .entry(year)
            .or_default()
            .push(Revision {
                sequence: e.sequence,
                recorded_at_micros: e.recorded_at_micros,
                principal: intern(&mut self.interned[0], &e.principal),
                submission_id: intern(&mut self.interned[1], &e.submission_id),
                hash: e.hash,
                change,
            });
    }

    /// The sequence an as-of point stands for (never beyond what is applied).
    pub fn resolve(&self, as_of: AsOf) -> u64 {
        match as_of {
            AsOf::Latest => self.applied,
            AsOf::Sequence(s) => s.min(self.applied),
            AsOf::RecordedAt(t) => {
                let i = self.times.partition_point(|(_, rt)| *rt <= t);
                if i == 0 {
                    0
                } else {
                    self.times[i - 1].0
                }
            }
        }
    }

    fn build_catalog(&self, seq: u64) -> Catalog {
        Catalog {
            regions: self
                .regions
                .iter()
                .filter_map(|(k, v)| latest(v, seq).map(|r| (k.clone(), r.clone())))
                .collect(),
            indicators: self
                .indicators
                .iter()
                .filter_map(|(k, v)| latest(v, seq).map(|i| (k.clone(), i.clone())))
                .collect(),
        }
    }

    /// The catalog as it was after event `seq`.
    pub fn catalog_at(&self, seq: u64) -> Arc<Catalog> {
        if seq >= self.catalog_changed_at {
            self.current_catalog.clone()
        } else {
            Arc::new(self.build_catalog(seq))
        }
    }

    /// The latest catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.current_catalog.clone()
    }

    /// All revisions of a cell (every sequence).
    pub fn revisions(&self, region: &str, indicator: &str, year: i32) -> &[Revision] {
        self.cells
            .get(region)
            .and_then(|m| m.get(indicator))
            .and_then(|m| m.get(&year))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The revisions of a cell up to and including `seq`.
    pub fn revisions_at(&self, region: &str, indicator: &str, year: i32, seq: u64) -> &[Revision] {
        let all = self.revisions(region, indicator, year);
        &all[..all.partition_point(|r| r.sequence <= seq)]
    }

    /// The cell's value after event `seq`: its last revision, unless that is a retraction.
    pub fn current(&self, region: &str, indicator: &str, year: i32, seq: u64) -> Option<&Revision> {
        self.revisions_at(region, indicator, year, seq)
            .last()
            .filter(|r| r.observation().is_some())
    }

    /// Years with any recorded cell.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }
}

fn latest<T>(versions: &[(u64, T)], seq: u64) -> Option<&T> {
    let i = versions.partition_point(|(s, _)| *s <= seq);
    (i > 0).then(|| &versions[i - 1].1)
}
