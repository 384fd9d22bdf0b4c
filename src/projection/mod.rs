//! The projection: an in-memory fold of the log that answers every picture query.
//!
//! Each cell (region, indicator, year) keeps its full revision list, and the catalog keeps
//! every version of every definition, so an as-of read (by sequence or by record time) is
//! a filter over those lists — never a replay of the log. `apply` is a pure fold with no
//! I/O; applying the same events gives the same state, which is what makes a rebuild from
//! the log give byte-identical pictures.
//!
//! # Memory
//!
//! A revision is kept in 32 bytes ([`Rev`]): its sequence, record time, value, status,
//! source and note (indexes into tables of the distinct sources and notes: a cell's note is
//! part of its picture). What a revision carries beyond that — its hash, principal,
//! submission id, correction or retraction reason — is read from the log when a revision
//! trail is asked for ([`Projection::trail`] gives the sequences). Cells are keyed by one `u64` made of interned region and
//! indicator numbers and the year, and a cell with one revision keeps it inline.
//!
//! # Derived figures
//!
//! One indicator's figures for one year ([`IndicatorYear`]: national value, ranks,
//! z-scores) are computed once and kept until a write touches that indicator and year (or
//! an indicator computed from it, or the catalog). A year's picture is kept the same way,
//! with its theme scores. Each kept figure records the last sequence that changed what it
//! is computed from, so it also answers as-of reads at any sequence since then; older
//! as-of reads compute.

mod analysis;
mod picture;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use fxhash::FxHashMap;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::domain::areas::is_municipality_code;
use crate::domain::{
    Aggregation, Catalog, Division, Event, Indicator, Municipality, Payload, Region, RegionGroup,
    Round, Status, Target,
};

pub(crate) use analysis::{Disparities, Forerunners, Likeness, Similar, TargetProgress, CLOSEST};
pub use picture::Level;
pub(crate) use picture::{
    GroupMember, GroupPicture, IndicatorYear, Origin, RoundStatus, SeriesPoint,
};
pub(crate) use picture::{RegionPicture, Score, ThemeScores, YearPicture};

/// One recorded change of a cell, as kept in memory (see the module's "Memory").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Rev {
    /// The sequence, with [`RETRACTED`] and [`PROVISIONAL`] in its two high bits.
    sequence_flags: u64,
    pub(crate) recorded_at_micros: i64,
    /// The value (0 for a retraction).
    pub(crate) value: f64,
    /// Index into the projection's source table.
    source: u32,
    /// Index into the projection's note table (0: no note).
    note: u32,
}

const RETRACTED: u64 = 1 << 63;
const PROVISIONAL: u64 = 1 << 62;

impl Rev {
    pub(crate) fn sequence(&self) -> u64 {
        self.sequence_flags & !(RETRACTED | PROVISIONAL)
    }

    /// Whether this revision retracted the cell's value.
    pub(crate) fn retracted(&self) -> bool {
        self.sequence_flags & RETRACTED != 0
    }

    /// The value's status (meaningless for a retraction).
    pub(crate) fn status(&self) -> Status {
        if self.sequence_flags & PROVISIONAL != 0 {
            Status::Provisional
        } else {
            Status::Final
        }
    }
}

/// A cell's revisions in sequence order; one revision (the common case) is kept inline.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Revs {
    One(Rev),
    Many(Vec<Rev>),
}

impl Revs {
    fn as_slice(&self) -> &[Rev] {
        match self {
            Revs::One(r) => std::slice::from_ref(r),
            Revs::Many(v) => v,
        }
    }

    fn push(&mut self, r: Rev) {
        match self {
            Revs::One(first) => *self = Revs::Many(vec![*first, r]),
            Revs::Many(v) => {
                // Grown by half, not doubled: a full list wastes at most a third.
                if v.len() == v.capacity() {
                    v.reserve_exact((v.len() / 2).max(2));
                }
                v.push(r)
            }
        }
    }
}

/// Which state of the log a read answers from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum AsOf {
    #[default]
    Latest,
    Sequence(u64),
    /// Microseconds since the Unix epoch: the last event recorded at or before it.
    RecordedAt(i64),
    /// Microseconds since the Unix epoch: the figures published by then, whatever day they
    /// were recorded (each cell's last figure whose publication time is at or before it),
    /// under the latest catalog. Answered by a projection of its own
    /// ([`Projection::apply_published_by`]), in which it is the latest state.
    PublishedBy(i64),
}

/// Strings numbered in order of first appearance. Serialized as the list of strings.
/// `S` hashes them: Fx for catalog codes (only validated codes are ever interned), the
/// standard randomized hasher for what clients write (sources, notes).
struct Interner<S = fxhash::FxBuildHasher> {
    names: Vec<Arc<str>>,
    numbers: HashMap<Arc<str>, u32, S>,
    /// The last string interned: loaders repeat theirs (a source, a note) for many events.
    last: Option<u32>,
}

impl<S: Default> Default for Interner<S> {
    fn default() -> Self {
        Interner {
            names: Vec::new(),
            numbers: HashMap::default(),
            last: None,
        }
    }
}

impl<S> Serialize for Interner<S> {
    fn serialize<Ser: serde::Serializer>(&self, s: Ser) -> Result<Ser::Ok, Ser::Error> {
        s.collect_seq(self.names.iter().map(|n| &**n))
    }
}

impl<'de, S: std::hash::BuildHasher + Default> Deserialize<'de> for Interner<S> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut i = Interner::default();
        for name in Vec::<String>::deserialize(d)? {
            i.intern(&name);
        }
        Ok(i)
    }
}

impl<S: std::hash::BuildHasher> Interner<S> {
    fn get(&self, s: &str) -> Option<u32> {
        self.numbers.get(s).copied()
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(n) = self.last.filter(|n| &*self.names[*n as usize] == s) {
            return n;
        }
        let n = match self.numbers.get(s) {
            Some(n) => *n,
            None => {
                let n = self.names.len() as u32;
                let name: Arc<str> = Arc::from(s);
                self.names.push(name.clone());
                self.numbers.insert(name, n);
                n
            }
        };
        self.last = Some(n);
        n
    }

    fn name(&self, n: u32) -> &Arc<str> {
        &self.names[n as usize]
    }
}

/// A cell's key: area number (16 bits), indicator number (20 bits), year less 1000 (14
/// bits: years are 1000..=9999) and the land of its borders (`Catalog::land`; 14 bits: 0
/// for none, else the division's year less 999). A catalog of more than 65,536 areas or
/// a million indicators would need a wider key; the catalog refuses more than
/// `limits::MAX_INDICATORS` indicators, and holds a few hundred areas.
fn cell_key(area: u32, indicator: u32, year: i32, land: Option<i32>) -> u64 {
    debug_assert!(area <= u32::from(u16::MAX), "at most 65,536 areas");
    debug_assert!(indicator < 1 << 20, "at most a million indicators");
    let year = (year - 1000) as u64 & 0x3fff;
    let land = land.map_or(0, |d| (d - 999) as u64 & 0x3fff);
    (u64::from(area as u16) << 48) | (u64::from(indicator) << 28) | (year << 14) | land
}

/// Hashes a [`cell_key`]: the keys are the projection's own numbers (nobody can choose
/// them to collide), so a few multiplications do; the mix spreads every part of the key
/// over the low bits, which pick the bucket (a plain multiply would leave those to the
/// year alone).
#[derive(Default, Clone, Copy)]
struct BuildCellHasher;

struct CellHasher(u64);

impl std::hash::BuildHasher for BuildCellHasher {
    type Hasher = CellHasher;
    fn build_hasher(&self) -> CellHasher {
        CellHasher(0)
    }
}

impl std::hash::Hasher for CellHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, k: u64) {
        // MurmurHash3's 64-bit finalizer.
        let mut h = self.0 ^ k;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        self.0 = h;
    }
}

/// Which figures a picture compares: the level of its areas and the borders they are on.
pub(crate) type On = (Level, Option<i32>);

/// Kept values, each with the level and borders it was computed on.
type PerOn<T> = Vec<(On, Arc<T>)>;

/// Derived figures kept between reads (see the module's "Derived figures"), each per level
/// and borders it was computed on.
#[derive(Default)]
struct Kept {
    figures: FxHashMap<(u32, i32), PerOn<IndicatorYear>>,
    years: FxHashMap<i32, PerOn<YearPicture>>,
    /// Area pictures by year, by area code and borders.
    regions: FxHashMap<i32, HashMap<AreaOn, Arc<RegionPicture>>>,
}

/// An area code and the borders its picture is on.
type AreaOn = (String, Option<i32>);

/// The projected state. Serialized into snapshots (`crate::snapshot`), all but what is
/// derived from the rest (the latest catalog, the kept figures).
#[derive(Default, Serialize, Deserialize)]
pub struct Projection {
    /// Last applied sequence.
    applied: u64,
    /// Every version of every region definition, by code, oldest first.
    regions: BTreeMap<String, Vec<(u64, Region)>>,
    /// Every version of every indicator definition, by id, oldest first.
    indicators: BTreeMap<String, Vec<(u64, Indicator)>>,
    /// Every version of every peer group, by id, oldest first.
    groups: BTreeMap<String, Vec<(u64, RegionGroup)>>,
    /// Every version of every reporting round, by year, oldest first.
    rounds: BTreeMap<i32, Vec<(u64, Round)>>,
    /// Every version of every municipality, by code, oldest first.
    municipalities: BTreeMap<String, Vec<(u64, Municipality)>>,
    /// Every version of every division, by year, oldest first.
    divisions: BTreeMap<i32, Vec<(u64, Division)>>,
    /// Every target set, in log order (a later one of the same key restates it).
    targets: Vec<(u64, Target)>,
    /// The borders municipal figures of each (indicator number, year) are on, in order:
    /// where a region's figure can be put together from its municipalities'.
    municipal_borders: FxHashMap<(u32, i32), Vec<i32>>,
    /// The latest catalog, shared with readers; rebuilt when a definition changes.
    #[serde(skip)]
    current_catalog: Arc<Catalog>,
    /// Sequence of the last catalog event: as-of reads at or after it use `current_catalog`.
    catalog_changed_at: u64,
    /// Indicator number → the numbers of the indicators computed from it (weights,
    /// numerators, denominators), under any version of the catalog.
    dependents: FxHashMap<u32, Vec<u32>>,
    region_numbers: Interner,
    indicator_numbers: Interner,
    sources: Interner<std::collections::hash_map::RandomState>,
    /// Distinct notes; number 0 is the empty note.
    notes: Interner<std::collections::hash_map::RandomState>,
    /// Keyed by [`cell_key`].
    cells: HashMap<u64, Revs, BuildCellHasher>,
    /// Years that have at least one cell.
    years: BTreeSet<i32>,
    /// The last sequence that changed each (indicator number, year)'s figures.
    changed: FxHashMap<(u32, i32), u64>,
    /// The last sequence that changed any cell of each year.
    year_changed: FxHashMap<i32, u64>,
    /// (last sequence, record time) per distinct record time, in log order; record times
    /// never decrease along the log, so this maps an instant to a sequence by bisection.
    times: Vec<(u64, i64)>,
    #[serde(skip)]
    kept: Mutex<Kept>,
}

impl Projection {
    pub fn new() -> Projection {
        Projection::default()
    }

    /// Completes a projection read from a snapshot: what is derived from the rest.
    pub(crate) fn restored(mut self) -> Projection {
        self.current_catalog = Arc::new(self.build_catalog(u64::MAX));
        self
    }

    /// Last applied sequence.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Applies one event. Events must come in sequence order, each exactly once.
    pub fn apply(&mut self, e: &Event) {
        self.count(e);
        let (value, source, note, flags) = match &e.payload {
            Payload::RegionDefined(r) => {
                self.regions
                    .entry(r.code.clone())
                    .or_default()
                    .push((e.sequence, r.clone()));
                self.region_numbers.intern(&r.code);
                self.catalog_changed(e.sequence);
                return;
            }
            Payload::IndicatorDefined(i) => {
                self.indicators
                    .entry(i.id.clone())
                    .or_default()
                    .push((e.sequence, i.clone()));
                let n = self.indicator_numbers.intern(&i.id);
                for component in components(&i.aggregation) {
                    let c = self.indicator_numbers.intern(component);
                    let deps = self.dependents.entry(c).or_default();
                    if !deps.contains(&n) {
                        deps.push(n);
                    }
                }
                self.catalog_changed(e.sequence);
                return;
            }
            Payload::ObservationRecorded(o) => {
                let provisional = if o.status == Status::Provisional {
                    PROVISIONAL
                } else {
                    0
                };
                (
                    o.value,
                    self.sources.intern(&o.source),
                    self.note_number(&o.note),
                    provisional,
                )
            }
            Payload::ObservationRetracted { .. } => (0.0, 0, 0, RETRACTED),
            // Members in code order whoever wrote the event (`RegionGroup::has` bisects).
            Payload::GroupDefined(g) => {
                self.groups
                    .entry(g.id.clone())
                    .or_default()
                    .push((e.sequence, g.clone().normalized()));
                self.catalog_changed(e.sequence);
                return;
            }
            Payload::MunicipalityDefined(m) => {
                self.municipalities
                    .entry(m.code.clone())
                    .or_default()
                    .push((e.sequence, m.clone()));
                self.region_numbers.intern(&m.code);
                self.catalog_changed(e.sequence);
                return;
            }
            Payload::DivisionDefined(d) => {
                self.divisions
                    .entry(d.year)
                    .or_default()
                    .push((e.sequence, d.clone()));
                self.catalog_changed(e.sequence);
                return;
            }
            Payload::TargetSet(t) => {
                self.targets.push((e.sequence, t.clone()));
                self.catalog_changed(e.sequence);
                return;
            }
            // A round changes no figure: its status is computed when asked for.
            Payload::RoundOpened(r) => {
                self.rounds
                    .entry(r.year)
                    .or_default()
                    .push((e.sequence, r.clone()));
                return;
            }
            // Bookkeeping of the write side (a submission's unchanged observations): no
            // cell changes.
            Payload::SubmissionSummary { .. } => return,
        };
        // Observation events always name a cell.
        let (indicator, year, borders) = e.cell().expect("observation events have a cell");
        self.years.insert(year);
        let region = self.region_numbers.intern(&e.region_code);
        let ind = self.indicator_numbers.intern(indicator);
        if let Some(d) = borders.filter(|_| is_municipality_code(&e.region_code)) {
            let on = self.municipal_borders.entry((ind, year)).or_default();
            if let Err(at) = on.binary_search(&d) {
                on.insert(at, d);
            }
        }
        debug_assert!(e.sequence & (RETRACTED | PROVISIONAL) == 0);
        let rev = Rev {
            sequence_flags: e.sequence | flags,
            recorded_at_micros: e.recorded_at_micros,
            value,
            source,
            note,
        };
        let land = self.current_catalog.land(&e.region_code, borders);
        match self.cells.entry(cell_key(region, ind, year, land)) {
            std::collections::hash_map::Entry::Occupied(mut o) => o.get_mut().push(rev),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Revs::One(rev));
            }
        }
        self.figures_changed(ind, year, e.sequence);
    }

    /// Applies one event to a projection of the figures published by `t`
    /// ([`AsOf::PublishedBy`]): a figure published later, or a retraction recorded later, is
    /// passed over (its sequence counted, no cell changed); the catalog is applied whole.
    pub(crate) fn apply_published_by(&mut self, e: &Event, t: i64) {
        let later = match &e.payload {
            Payload::ObservationRecorded(o) => o.published_or(e.recorded_at_micros) > t,
            Payload::ObservationRetracted { .. } => e.recorded_at_micros > t,
            _ => false,
        };
        if !later {
            return self.apply(e);
        }
        self.count(e);
    }

    /// Counts an event as applied: its sequence and record time.
    fn count(&mut self, e: &Event) {
        debug_assert_eq!(e.sequence, self.applied + 1, "events applied in order");
        self.applied = e.sequence;
        match self.times.last_mut() {
            Some((seq, t)) if *t == e.recorded_at_micros => *seq = e.sequence,
            _ => self.times.push((e.sequence, e.recorded_at_micros)),
        }
    }

    fn note_number(&mut self, note: &str) -> u32 {
        if self.notes.names.is_empty() {
            self.notes.intern("");
        }
        self.notes.intern(note)
    }

    /// Forgets the kept figures of `ind` in `year` and of everything computed from them.
    fn figures_changed(&mut self, ind: u32, year: i32, seq: u64) {
        self.year_changed.insert(year, seq);
        let kept = self.kept.get_mut();
        kept.years.remove(&year);
        // A region's picture shows the year's figures and its own previous year.
        kept.regions.remove(&year);
        kept.regions.remove(&(year + 1));
        let mut todo = vec![ind];
        while let Some(i) = todo.pop() {
            if self.changed.insert((i, year), seq) == Some(seq) {
                continue; // already done for this event (a dependency cycle)
            }
            kept.figures.remove(&(i, year));
            if let Some(deps) = self.dependents.get(&i) {
                todo.extend(deps.iter().copied());
            }
        }
    }

    fn catalog_changed(&mut self, seq: u64) {
        self.current_catalog = Arc::new(self.build_catalog(u64::MAX));
        self.catalog_changed_at = seq;
        *self.kept.get_mut() = Kept::default();
    }

    /// The sequence an as-of point stands for (never beyond what is applied).
    pub(crate) fn resolve(&self, as_of: AsOf) -> u64 {
        match as_of {
            AsOf::Latest | AsOf::PublishedBy(_) => self.applied,
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
        let mut catalog = Catalog {
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
            groups: self
                .groups
                .iter()
                .filter_map(|(k, v)| latest(v, seq).map(|g| (k.clone(), g.clone())))
                .collect(),
            municipalities: self
                .municipalities
                .iter()
                .filter_map(|(k, v)| latest(v, seq).map(|m| (k.clone(), m.clone())))
                .collect(),
            divisions: self
                .divisions
                .iter()
                .filter_map(|(k, v)| latest(v, seq).map(|d| (*k, d.clone())))
                .collect(),
            ..Catalog::default()
        };
        for (_, t) in self.targets.iter().take_while(|(s, _)| *s <= seq) {
            catalog.set_target(t.clone());
        }
        catalog
    }

    /// The reporting round of `year` as it was after event `seq`, with the sequence that
    /// opened it in that form.
    pub(crate) fn round(&self, year: i32, seq: u64) -> Option<(u64, &Round)> {
        latest_version(self.rounds.get(&year)?, seq).map(|(s, r)| (*s, r))
    }

    /// The years with a reporting round after event `seq`.
    pub(crate) fn round_years(&self, seq: u64) -> Vec<i32> {
        self.rounds
            .iter()
            .filter(|(_, v)| v.first().is_some_and(|(s, _)| *s <= seq))
            .map(|(y, _)| *y)
            .collect()
    }

    /// The record time of event `seq` (0 before the first event).
    pub(crate) fn time_of(&self, seq: u64) -> i64 {
        // `times` holds the last sequence of each distinct record time, in order.
        let i = self.times.partition_point(|(last, _)| *last < seq);
        match self.times.get(i) {
            Some((_, t)) if seq > 0 => *t,
            _ => 0,
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
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.current_catalog.clone()
    }

    /// All revisions of a cell (every sequence).
    fn revisions(&self, region: &str, indicator: &str, year: i32, borders: Option<i32>) -> &[Rev] {
        match (
            self.region_numbers.get(region),
            self.indicator_numbers.get(indicator),
        ) {
            (Some(r), Some(i)) => {
                self.numbered(r, i, year, self.current_catalog.land(region, borders))
            }
            _ => &[],
        }
    }

    /// All revisions of a cell by area and indicator number, on the land of its borders.
    fn numbered(&self, region: u32, indicator: u32, year: i32, land: Option<i32>) -> &[Rev] {
        self.cells
            .get(&cell_key(region, indicator, year, land))
            .map(Revs::as_slice)
            .unwrap_or(&[])
    }

    /// Those of `revisions` up to and including `seq`.
    fn upto<'a>(&self, revisions: &'a [Rev], seq: u64) -> &'a [Rev] {
        if seq >= self.applied {
            revisions
        } else {
            &revisions[..split(revisions, seq, self.applied)]
        }
    }

    /// The revisions of a cell up to and including `seq`.
    pub(crate) fn revisions_at(
        &self,
        region: &str,
        indicator: &str,
        year: i32,
        borders: Option<i32>,
        seq: u64,
    ) -> &[Rev] {
        self.upto(self.revisions(region, indicator, year, borders), seq)
    }

    /// The sequences of a cell's revisions up to and including `seq`, oldest first: the
    /// events of its revision trail, which the log holds in full.
    pub fn trail(
        &self,
        region: &str,
        indicator: &str,
        year: i32,
        borders: Option<i32>,
        seq: u64,
    ) -> Vec<u64> {
        self.revisions_at(region, indicator, year, borders, seq)
            .iter()
            .map(Rev::sequence)
            .collect()
    }

    /// The sequences of a cell's revisions on every borders up to and including `seq`, in
    /// order: its trails on each land side by side (`trail` of each), and without borders.
    pub fn trails(&self, region: &str, indicator: &str, year: i32, seq: u64) -> Vec<u64> {
        let mut all: Vec<u64> = std::iter::once(None)
            .chain(self.current_catalog.lands(region).into_iter().map(Some))
            .flat_map(|b| self.trail(region, indicator, year, b, seq))
            .collect();
        all.sort_unstable();
        all
    }

    /// Whether figures of `year` on borders `d` are kept once computed: only for years with
    /// cells and on the latest borders (the default), so that readers cannot fill memory
    /// with empty years or with every area's pictures on every division; pictures on other
    /// borders are computed for each read, like an as-of read.
    fn keeps(&self, year: i32, d: Option<i32>) -> bool {
        self.years.contains(&year) && d == self.latest_borders()
    }

    /// The latest division of the latest catalog: the borders pictures are on by default
    /// (`None`: the catalog has no divisions).
    pub fn latest_borders(&self) -> Option<i32> {
        self.current_catalog.divisions.keys().next_back().copied()
    }

    /// The cell's value after event `seq` (see [`value_of`]).
    pub(crate) fn current(
        &self,
        region: &str,
        indicator: &str,
        year: i32,
        borders: Option<i32>,
        seq: u64,
    ) -> Option<&Rev> {
        value_of(self.revisions_at(region, indicator, year, borders, seq))
    }

    /// A revision's source.
    pub(crate) fn source(&self, r: &Rev) -> &Arc<str> {
        self.sources.name(r.source)
    }

    /// A revision's note ("" when it has none).
    pub(crate) fn note(&self, r: &Rev) -> &str {
        if r.note == 0 {
            return "";
        }
        self.notes.name(r.note)
    }

    /// Years with any recorded cell.
    pub(crate) fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// The years each indicator has figures in (a cell of its own or of a component,
    /// recorded or retracted since), in order, by indicator id.
    pub(crate) fn indicator_years(&self) -> BTreeMap<Arc<str>, Vec<i32>> {
        let mut years: BTreeMap<Arc<str>, Vec<i32>> = BTreeMap::new();
        for &(i, year) in self.changed.keys() {
            years
                .entry(self.indicator_numbers.name(i).clone())
                .or_default()
                .push(year);
        }
        for v in years.values_mut() {
            v.sort_unstable();
        }
        years
    }

    /// The last sequence up to `seq` that changed the figures of `indicator` in `year`
    /// (or the catalog).
    fn changed_at(&self, indicator: &str, year: i32) -> u64 {
        let cell = self
            .indicator_numbers
            .get(indicator)
            .and_then(|i| self.changed.get(&(i, year)))
            .copied()
            .unwrap_or(0);
        cell.max(self.catalog_changed_at)
    }

    /// The last sequence up to which a region's picture of `year` stays the same: any
    /// change to the year, to the year before (its previous values) or to the catalog.
    fn region_picture_since(&self, year: i32) -> u64 {
        let changed = |y| self.year_changed.get(&y).copied().unwrap_or(0);
        changed(year)
            .max(changed(year - 1))
            .max(self.catalog_changed_at)
    }
}

/// A cell's value given its revisions up to some sequence: the last one, unless that is a
/// retraction.
fn value_of(revisions: &[Rev]) -> Option<&Rev> {
    revisions.last().filter(|r| !r.retracted())
}

/// How many of `revisions` (in sequence order, all at or before `applied`) are at or
/// before `seq`. A plain bisection of a long list touches a cache line per step; writes
/// spread over the log put the answer near `len × seq / applied`, so the search starts
/// there and widens (1, 2, 4, … entries) until it brackets the answer, then bisects that
/// bracket: a step or two when the guess is good, twice a bisection's steps at worst.
fn split(revisions: &[Rev], seq: u64, applied: u64) -> usize {
    let n = revisions.len();
    if n < 16 || applied == 0 {
        return revisions.partition_point(|r| r.sequence() <= seq);
    }
    let at = |i: usize| revisions[i].sequence() <= seq;
    let guess = ((n as u128 * u128::from(seq) / u128::from(applied)) as usize).min(n - 1);
    // The answer is the first index whose revision is after `seq` (n if none).
    let (lo, hi) = if at(guess) {
        // After the guess: widen to the right.
        let (mut lo, mut step) = (guess + 1, 1);
        loop {
            let probe = guess + step;
            if probe >= n {
                break (lo, n);
            }
            if !at(probe) {
                break (lo, probe);
            }
            lo = probe + 1;
            step *= 2;
        }
    } else {
        // At or before the guess: widen to the left.
        let (mut hi, mut step) = (guess, 1);
        loop {
            if step > guess {
                break (0, hi);
            }
            let probe = guess - step;
            if at(probe) {
                break (probe + 1, hi);
            }
            hi = probe;
            step *= 2;
        }
    };
    lo + revisions[lo..hi].partition_point(|r| r.sequence() <= seq)
}

/// The indicators an aggregation rule computes from, besides the indicator itself.
fn components(a: &Aggregation) -> Vec<&str> {
    match a {
        Aggregation::WeightedMean { weight } => vec![weight],
        Aggregation::Ratio {
            numerator,
            denominator,
            ..
        } => vec![numerator, denominator],
        Aggregation::Sum | Aggregation::NationalOnly => vec![],
    }
}

fn latest<T>(versions: &[(u64, T)], seq: u64) -> Option<&T> {
    latest_version(versions, seq).map(|(_, v)| v)
}

/// The last of `versions` (oldest first) recorded at or before `seq`, with its sequence.
fn latest_version<T>(versions: &[(u64, T)], seq: u64) -> Option<&(u64, T)> {
    let i = versions.partition_point(|(s, _)| *s <= seq);
    i.checked_sub(1).map(|i| &versions[i])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Principal;
    use crate::domain::validate::ObservationInput;
    use crate::write::{RetractInput, SubmitInput, WriteRequest, WriterState};

    /// 2026-11-27T00:00:00Z in microseconds.
    const NOW: i64 = 1_795_737_600_000_000;

    fn observation(indicator: &str, year: i32, value: f64) -> ObservationInput {
        ObservationInput {
            indicator_id: indicator.into(),
            year,
            value,
            status: Some(Status::Provisional),
            source: "test".into(),
            note: if value > 100.0 {
                "big".into()
            } else {
                String::new()
            },
            correction_reason: String::new(),
            borders: None,
            published_micros: None,
        }
    }

    /// The pictures' default in these tests: regions on the latest bundled division (2026),
    /// the one the figures, recorded in 2026, are on.
    const ON: (Level, Option<i32>) = (Level::Region, Some(2026));

    /// Everything a read answers, as text, from `p` at `seq`.
    fn pictures(p: &Projection, seq: u64) -> String {
        use crate::api::convert::{national_picture_to_proto, region_picture_to_proto};
        let mut out = String::new();
        for year in 2019..=2021 {
            out += &format!(
                "{:?}\n",
                national_picture_to_proto(&p.year_picture(year, ON, seq), seq)
            );
            for region in ["MK01", "MK02", "MK04"] {
                let r = region_picture_to_proto(&p.region_picture(region, year, ON.1, seq), seq);
                out += &format!("{r:?}\n");
            }
        }
        out
    }

    /// Kept figures (reused across writes that do not touch them, and for as-of reads since
    /// their last change) equal figures computed afresh by a projection that never kept any,
    /// at every sequence: writes to a component (population) change the ratios computed
    /// from it, retractions and catalog changes are seen.
    #[test]
    fn kept_figures_equal_fresh_ones_at_every_sequence() {
        let mut state = WriterState::default();
        let mut events = state.bootstrap(&crate::domain::Catalog::bundled(), NOW);
        // The bootstrap's hundreds of catalog events are checked once, at its end.
        let bootstrap = events.len() as u64;
        let who = Principal::system("t");
        let mut requests = Vec::new();
        for (i, (region, value)) in [("MK01", 10.0), ("MK02", 20.0), ("MK04", 300.0)]
            .into_iter()
            .enumerate()
        {
            for indicator in ["population", "ghg_emissions_kt"] {
                requests.push(WriteRequest::Submit(SubmitInput {
                    submission_id: format!("s{i}{indicator}"),
                    region_code: region.into(),
                    expected_region_revision: None,
                    observations: (2019..=2021)
                        .map(|y| observation(indicator, y, value + f64::from(y - 2019)))
                        .collect(),
                    validate_only: false,
                }));
            }
        }
        requests.push(WriteRequest::Submit(SubmitInput {
            submission_id: "revise".into(),
            region_code: "MK02".into(),
            expected_region_revision: None,
            observations: vec![observation("population", 2020, 999.0)],
            validate_only: false,
        }));
        // A peer group defined mid-way and redefined later: region pictures show the
        // group's figures as the group was.
        let group = |members: &[&str]| WriteRequest::DefineGroup {
            submission_id: format!("group-{}", members.join("-")),
            group: crate::domain::RegionGroup {
                id: "test".into(),
                name_fi: "Testi".into(),
                name_sv: "Test".into(),
                name_en: "Test".into(),
                members: members.iter().map(|m| (*m).to_owned()).collect(),
                source: "test".into(),
            },
        };
        requests.insert(2, group(&["MK01", "MK02"]));
        requests.push(group(&["MK02", "MK04"]));
        requests.push(WriteRequest::Retract(RetractInput {
            submission_id: "retract".into(),
            region_code: "MK01".into(),
            indicator_id: "ghg_emissions_kt".into(),
            year: 2021,
            reason: "wrong".into(),
            expected_region_revision: None,
            borders: None,
        }));
        for req in &requests {
            state.prepare(req.clone(), &who, NOW, &mut events).unwrap();
        }
        let mut live = Projection::new();
        let mut fresh_pictures = Vec::new();
        for e in &events {
            live.apply(e);
            if e.sequence < bootstrap {
                continue;
            }
            // Read after every event, so that kept figures carry over writes.
            let latest = pictures(&live, e.sequence);
            let mut fresh = Projection::new();
            for f in &events[..e.sequence as usize] {
                fresh.apply(f);
            }
            assert_eq!(latest, pictures(&fresh, e.sequence), "at {}", e.sequence);
            fresh_pictures.push((e.sequence, latest));
        }
        // As-of reads of every earlier sequence from the live projection with its kept
        // figures, and before the bootstrap ended (no catalog yet: no figures).
        for (seq, expected) in &fresh_pictures {
            assert_eq!(&pictures(&live, *seq), expected, "as of {seq}");
        }
        let mut empty = Projection::new();
        empty.apply(&events[0]);
        assert_eq!(pictures(&live, 1), pictures(&empty, 1));
    }

    /// A round's status: what each expected region has and lacks after an event, and
    /// overdue only at an instant after the deadline; reopening the round changes its terms
    /// from that event on, and the old terms stay readable.
    #[test]
    fn a_round_is_overdue_only_after_its_deadline_and_as_it_was_opened() {
        let mut state = WriterState::default();
        let mut events = state.bootstrap(&crate::domain::Catalog::bundled(), NOW);
        let who = Principal::system("t");
        let deadline = NOW + 1_000_000;
        let round = |deadline_micros, indicators: &[&str]| WriteRequest::OpenRound {
            submission_id: format!("round-{deadline_micros}-{}", indicators.len()),
            round: crate::domain::Round {
                year: 2020,
                deadline_micros,
                indicators: indicators.iter().map(|i| (*i).to_owned()).collect(),
                regions: vec!["MK01".into(), "MK02".into()],
            },
            allow_past: false,
        };
        let submit = WriteRequest::Submit(SubmitInput {
            submission_id: "pop".into(),
            region_code: "MK01".into(),
            expected_region_revision: None,
            observations: vec![observation("population", 2020, 10.0)],
            validate_only: false,
        });
        for req in [
            round(deadline, &["ghg_emissions_kt", "population"]),
            submit,
            round(deadline * 2, &["population"]),
        ] {
            state.prepare(req, &who, NOW, &mut events).unwrap();
        }
        let mut p = Projection::new();
        for e in &events {
            p.apply(e);
        }
        let last = p.applied();
        let (opened, reported) = (last - 2, last - 1);
        assert!(
            p.round_status(2020, opened - 1, NOW).is_none(),
            "not yet opened"
        );
        assert!(p.round_status(2019, last, NOW).is_none());
        let parts = |seq, at| {
            let s = p.round_status(2020, seq, at).unwrap();
            s.regions
                .iter()
                .map(|r| {
                    (
                        r.region.clone(),
                        r.reported.len(),
                        r.missing.len(),
                        r.overdue,
                    )
                })
                .collect::<Vec<_>>()
        };
        let owed = |a, b| {
            vec![
                ("MK01".to_owned(), a, 2 - a, b),
                ("MK02".to_owned(), 0, 2, b),
            ]
        };
        // Before the deadline nothing is overdue; at it neither; after it, what is missing.
        assert_eq!(parts(opened, deadline - 1), owed(0, false));
        assert_eq!(parts(opened, deadline), owed(0, false));
        assert_eq!(parts(opened, deadline + 1), owed(0, true));
        assert_eq!(parts(reported, deadline + 1), owed(1, true));
        // Reopened with one indicator and a later deadline: MK01 is complete, MK02 is not
        // overdue until the new deadline.
        let now = p.round_status(2020, last, deadline + 1).unwrap();
        assert_eq!(now.opened_sequence, last);
        assert_eq!(now.round.indicators, ["population"]);
        assert_eq!(
            parts(last, deadline + 1),
            vec![("MK01".into(), 1, 0, false), ("MK02".into(), 0, 1, false)]
        );
        assert_eq!(
            parts(last, deadline * 2 + 1),
            vec![("MK01".into(), 1, 0, false), ("MK02".into(), 0, 1, true)]
        );
        assert_eq!(p.round(2020, reported).unwrap().1.indicators.len(), 2);
        assert_eq!(p.round_years(last), [2020]);
    }

    /// A group value follows the national value's completeness rules over the members: a
    /// sum only when every member reported, a ratio over part of the group marked partial.
    #[test]
    fn group_values_follow_the_completeness_rules_over_their_members() {
        use crate::domain::stats::Basis;
        let mut state = WriterState::default();
        let mut events = state.bootstrap(&crate::domain::Catalog::bundled(), NOW);
        let who = Principal::system("t");
        // FI1C: MK02 MK05 MK07 MK08 MK09.
        let submit = |region: &str, pop: f64| {
            WriteRequest::Submit(SubmitInput {
                submission_id: format!("s-{region}"),
                region_code: region.into(),
                expected_region_revision: None,
                observations: vec![
                    observation("population", 2020, pop),
                    observation("unemployed_15_74", 2020, pop / 100.0),
                    observation("labour_force_15_74", 2020, pop / 10.0),
                ],
                validate_only: false,
            })
        };
        let mut p = Projection::new();
        let figures = |p: &Projection, id: &str| {
            let yp = p.year_picture(2020, ON, p.applied());
            let iy = yp.indicators.iter().find(|i| i.indicator.id == id).unwrap();
            let g = iy.group("FI1C").unwrap();
            (
                g.value.value,
                g.value.basis,
                g.value.regions_reported,
                g.value.regions_expected,
            )
        };
        for (i, region) in ["MK02", "MK05", "MK07", "MK08", "MK09"].iter().enumerate() {
            state
                .prepare(
                    submit(region, 100.0 * (i + 1) as f64),
                    &who,
                    NOW,
                    &mut events,
                )
                .unwrap();
            for e in &events[p.applied() as usize..] {
                p.apply(e);
            }
            let n = i as u32 + 1;
            let (sum, basis, reported, expected) = figures(&p, "population");
            if n < 5 {
                assert_eq!((sum, basis), (None, Basis::Unavailable), "{n} of 5 members");
            } else {
                assert_eq!((sum, basis), (Some(1500.0), Basis::Complete));
            }
            assert_eq!((reported, expected), (n, 5));
            // Σ unemployed / Σ labour force × 100 = 10 % whatever part reported.
            let (rate, basis, _, _) = figures(&p, "unemployment_rate_15_74");
            assert!((rate.unwrap() - 10.0).abs() < 1e-9);
            let partial = if n < 5 {
                Basis::Partial
            } else {
                Basis::Complete
            };
            assert_eq!(basis, partial);
        }
        // Regions outside the group change nothing of it.
        state
            .prepare(submit("MK01", 1e6), &who, NOW, &mut events)
            .unwrap();
        for e in &events[p.applied() as usize..] {
            p.apply(e);
        }
        assert_eq!(figures(&p, "population").0, Some(1500.0));
    }

    #[test]
    fn a_revision_is_32_bytes_and_a_cell_with_one_keeps_it_inline() {
        assert_eq!(std::mem::size_of::<Rev>(), 32);
        assert_eq!(std::mem::size_of::<Revs>(), 40);
    }

    /// The guided search answers exactly what a bisection answers, for lists spread evenly
    /// or bunched anywhere in the log, and every sequence.
    #[test]
    fn the_guided_search_agrees_with_a_bisection() {
        let rev = |s: u64| Rev {
            sequence_flags: s,
            recorded_at_micros: 0,
            value: 0.0,
            source: 0,
            note: 0,
        };
        let applied = 10_000;
        let lists: Vec<Vec<Rev>> = vec![
            (1..=100).map(|i| rev(i * 100)).collect(),
            (1..=100).map(rev).collect(),
            (1..=100).map(|i| rev(9_900 + i)).collect(),
            (1..=40).map(|i| rev(i * i * 6)).collect(),
            (1..=17).map(|i| rev(i * 500)).collect(),
        ];
        for list in &lists {
            for seq in 0..=applied {
                assert_eq!(
                    split(list, seq, applied),
                    list.partition_point(|r| r.sequence() <= seq),
                    "seq {seq} in {:?}",
                    list.iter().map(Rev::sequence).collect::<Vec<_>>()
                );
            }
        }
    }

    #[test]
    fn cell_keys_do_not_collide_across_their_parts() {
        let a = cell_key(1, 2, 2024, Some(2021));
        assert_ne!(a, cell_key(2, 2, 2024, Some(2021)));
        assert_ne!(a, cell_key(1, 3, 2024, Some(2021)));
        assert_ne!(a, cell_key(1, 2, 2025, Some(2021)));
        assert_ne!(a, cell_key(1, 2, 2024, Some(2022)));
        assert_ne!(a, cell_key(1, 2, 2024, None));
        assert_ne!(cell_key(1, 2, 9999, None), cell_key(1, 3, 1000, None));
        assert_ne!(cell_key(0, 0xf_ffff, 0, None), cell_key(1, 0, 0, None));
        assert_ne!(cell_key(1, 2, 2020, Some(9999)), cell_key(1, 2, 2021, None));
    }
}
