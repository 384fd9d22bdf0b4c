//! Areas that change: municipalities, the divisions (borders) they are placed on, and how an
//! area on one year's borders relates to the same area on another's.
//!
//! A **division** is the borders in force from 1 January of a year: which region each
//! municipality belongs to. A municipality's placements say where it lay in which years
//! (its region, sub-region and wellbeing services county), and `joined` names the
//! municipality it merged into when it ended. From these two the catalog answers:
//!
//! - whether a region covers the same land on two divisions (a figure on either is then a
//!   figure on both: mergers inside a region do not matter, a municipality that moved does);
//! - in which region of a division a municipality on other borders lies wholly, if it does
//!   (so a region's figure that adds up can be put together from its municipalities').
//!
//! A division without placements (the borders of a release before the key begins, 2013)
//! holds regions only: nothing on it is equal to anything on other borders.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use fxhash::FxHashMap;
use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use super::catalog::{Catalog, CatalogError, MAX_NAME_LEN, NATIONAL_CODE};

/// The bundled municipality key: Statistics Finland's classification on 1 January of each
/// year 2013–2026 (`data/areas/README.md`).
pub(crate) const BUNDLED_MUNICIPALITIES: &str =
    include_str!("../../data/areas/municipality_key_2013_2026.csv");
/// The bundled mergers: Statistics Finland's abolished municipalities 2000–2022, and the
/// mergers decided since (`data/areas/README.md` names each one's source).
pub(crate) const BUNDLED_MERGERS: [&str; 2] = [
    include_str!("../../data/areas/municipalities_merged_2000_2022.csv"),
    include_str!("../../data/areas/municipalities_merged_2023_2026.csv"),
];
/// The bundled divisions: the borders of every year the bundled data are on.
pub(crate) const BUNDLED_DIVISIONS: &str = include_str!("../../data/areas/divisions.csv");

/// Longest source of a division.
pub(crate) const MAX_DIVISION_SOURCE_LEN: usize = 512;
/// Most municipalities in a catalog: every division's membership is computed from them
/// (Finland had 452 in 2000; a country's key of ten times that is still small).
pub(crate) const MAX_MUNICIPALITIES: usize = 4096;
/// Most divisions: one a year over a long history.
pub(crate) const MAX_DIVISIONS: usize = 512;
/// The longest chain of mergers followed from one municipality: Finland's longest is three.
const MAX_MERGER_STEPS: usize = 16;

/// Where a municipality lay over a span of years.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Placement {
    pub(crate) first_year: i32,
    pub(crate) last_year: i32,
    /// Region code (`MK##`).
    pub(crate) region: String,
    /// Sub-region code (`SK###`), empty where the key has none.
    pub(crate) sub_region: String,
    /// The sub-region's name (the key names it in Finnish only).
    pub(crate) sub_region_name: String,
    /// Wellbeing services county code (`HV##`), empty where the key has none.
    pub(crate) county: String,
    /// The county's name (in Finnish only, as in the key).
    pub(crate) county_name: String,
}

impl Placement {
    /// The code of the area of `grouping` it lies in, if the key gives one.
    pub(crate) fn code(&self, grouping: Grouping) -> Option<&str> {
        let code = match grouping {
            Grouping::Region => &self.region,
            Grouping::SubRegion => &self.sub_region,
            Grouping::County => &self.county,
        };
        (!code.is_empty()).then_some(code.as_str())
    }

    /// The name of the sub-region or county it lies in (`None` for a region, whose name is
    /// the region catalog's).
    fn group_name(&self, grouping: Grouping) -> Option<&str> {
        match grouping {
            Grouping::Region => None,
            Grouping::SubRegion => Some(&self.sub_region_name),
            Grouping::County => Some(&self.county_name),
        }
    }
}

/// The larger areas municipalities make up: regions (which figures are also reported for),
/// and the key's sub-regions (`SK###`) and wellbeing services counties (`HV##`), whose
/// figures are only ever put together from their municipalities'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Grouping {
    Region,
    SubRegion,
    County,
}

impl Grouping {
    /// The grouping of a sub-region or county code (`SK` and three digits, `HV` and two).
    pub(crate) fn of_code(code: &str) -> Option<Grouping> {
        if coded(code, "SK", 3) {
            Some(Grouping::SubRegion)
        } else if coded(code, "HV", 2) {
            Some(Grouping::County)
        } else {
            None
        }
    }

    /// "a sub-region", for messages.
    pub(crate) fn what(self) -> &'static str {
        match self {
            Grouping::Region => "a region",
            Grouping::SubRegion => "a sub-region",
            Grouping::County => "a wellbeing services county",
        }
    }
}

/// A municipality of the catalog (`KU` + Statistics Finland's three digits).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Municipality {
    pub(crate) code: String,
    pub(crate) name_fi: String,
    pub(crate) name_sv: String,
    pub(crate) name_en: String,
    /// Where it lay, by spans of years in order; it was in force in these years only.
    pub(crate) placements: Vec<Placement>,
    /// The municipality it joined when it ended, if it merged.
    pub(crate) joined: Option<String>,
}

impl Municipality {
    /// Where it lay in `year`, if it was in force.
    pub(crate) fn placement(&self, year: i32) -> Option<&Placement> {
        self.placements
            .iter()
            .find(|p| p.first_year <= year && year <= p.last_year)
    }

    /// Its region on the borders of `year`.
    pub(crate) fn region(&self, year: i32) -> Option<&str> {
        self.group(Grouping::Region, year)
    }

    /// The area of `grouping` it lay in on the borders of `year`.
    pub(crate) fn group(&self, grouping: Grouping, year: i32) -> Option<&str> {
        self.placement(year).and_then(|p| p.code(grouping))
    }

    /// The years it was in force, in words ("2013-2024").
    pub(crate) fn years(&self) -> String {
        match (self.placements.first(), self.placements.last()) {
            (Some(f), Some(l)) => format!("{}-{}", f.first_year, l.last_year),
            _ => "in no year".into(),
        }
    }

    /// Checks the definition on its own.
    pub(crate) fn check(&self) -> Result<(), String> {
        if !is_municipality_code(&self.code) {
            return Err(format!(
                "municipality code {:?} must be KU and three digits",
                super::text::clip(&self.code)
            ));
        }
        for (field, v) in [
            ("name_fi", &self.name_fi),
            ("name_sv", &self.name_sv),
            ("name_en", &self.name_en),
        ] {
            super::catalog::check_name(field, v)?;
        }
        if self.placements.is_empty() {
            return Err(format!("{}: a municipality needs a placement", self.code));
        }
        for p in &self.placements {
            if !(1000..=9999).contains(&p.first_year) || p.first_year > p.last_year {
                return Err(format!(
                    "{}: years {}-{} must be ordered and within 1000..9999",
                    self.code, p.first_year, p.last_year
                ));
            }
            for (grouping, code, name) in [
                (Grouping::SubRegion, &p.sub_region, &p.sub_region_name),
                (Grouping::County, &p.county, &p.county_name),
            ] {
                let named = !name.trim().is_empty() && name.len() <= MAX_NAME_LEN;
                if !code.is_empty() && (Grouping::of_code(code) != Some(grouping) || !named) {
                    return Err(format!(
                        "{}: {} {:?} must be SK and three digits (a county: HV and two), with \
                         a name of 1-{MAX_NAME_LEN} bytes",
                        self.code,
                        grouping.what(),
                        super::text::clip(code)
                    ));
                }
            }
        }
        if self
            .placements
            .windows(2)
            .any(|w| w[0].last_year >= w[1].first_year)
        {
            return Err(format!("{}: placements must not overlap", self.code));
        }
        if self.joined.as_deref() == Some(self.code.as_str()) {
            return Err(format!("{} cannot join itself", self.code));
        }
        Ok(())
    }
}

/// The borders in force from 1 January of `year`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Division {
    pub(crate) year: i32,
    /// Where the borders come from (the key or release they were published in).
    pub(crate) source: String,
}

impl Division {
    pub(crate) fn check(&self) -> Result<(), String> {
        if !(1000..=9999).contains(&self.year) {
            return Err(format!("year {} must be within 1000..9999", self.year));
        }
        if self.source.trim().is_empty() || self.source.len() > MAX_DIVISION_SOURCE_LEN {
            return Err(format!(
                "source must name where the borders come from (1-{MAX_DIVISION_SOURCE_LEN} bytes)"
            ));
        }
        Ok(())
    }
}

/// Where each municipality of one division lies on another: its region, if it lies wholly
/// in one.
pub(crate) type Placed = BTreeMap<String, Option<String>>;

/// What a catalog computes once about its areas (a pure function of its municipalities and
/// divisions: cleared when those change): not compared, not serialized, and a clone starts
/// empty.
#[derive(Default)]
pub(crate) struct AreaCache {
    placed: Mutex<HashMap<(i32, i32, Grouping), Arc<Placed>>>,
    /// By area, then division: looked up by `&str` without allocating, and read-locked
    /// only (every cell lookup of the fold and of every read asks).
    land: RwLock<FxHashMap<String, FxHashMap<i32, i32>>>,
    /// Maps drawn (`super::geo`), by level (`None`: municipalities) and division.
    maps: Mutex<HashMap<MapKey, Arc<super::geo::Map>>>,
}

/// A map's level (`None`: municipalities) and division.
type MapKey = (Option<Grouping>, i32);

impl AreaCache {
    /// Forgets everything computed, after the catalog's areas changed.
    pub(crate) fn clear(&mut self) {
        *self = AreaCache::default();
    }

    /// The map of `key`, drawn by `draw` the first time it is asked for.
    pub(crate) fn map(
        &self,
        key: MapKey,
        draw: impl FnOnce() -> Result<super::geo::Map, String>,
    ) -> Result<Arc<super::geo::Map>, String> {
        if let Some(m) = self.maps.lock().get(&key) {
            return Ok(m.clone());
        }
        let m = Arc::new(draw()?);
        self.maps.lock().insert(key, m.clone());
        Ok(m)
    }
}

impl Clone for AreaCache {
    fn clone(&self) -> Self {
        AreaCache::default()
    }
}

impl PartialEq for AreaCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for AreaCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AreaCache")
    }
}

/// Whether `code` has the shape of a municipality code (`KU` and three digits).
pub(crate) fn is_municipality_code(code: &str) -> bool {
    coded(code, "KU", 3)
}

/// Whether `code` is `prefix` and then `digits` ASCII digits.
fn coded(code: &str, prefix: &str, digits: usize) -> bool {
    code.len() == prefix.len() + digits
        && code.starts_with(prefix)
        && code[prefix.len()..].bytes().all(|b| b.is_ascii_digit())
}

/// An area of the catalog a figure can be for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Area<'a> {
    /// A region, or the whole country.
    Region(&'a super::Region),
    Municipality(&'a Municipality),
    /// A sub-region or a wellbeing services county: read, never written (its figures are
    /// its municipalities').
    Group {
        code: &'a str,
        name: &'a str,
        grouping: Grouping,
    },
}

impl<'a> Area<'a> {
    pub(crate) fn code(self) -> &'a str {
        match self {
            Area::Region(r) => &r.code,
            Area::Municipality(m) => &m.code,
            Area::Group { code, .. } => code,
        }
    }

    pub(crate) fn name_en(self) -> &'a str {
        match self {
            Area::Region(r) => &r.name_en,
            Area::Municipality(m) => &m.name_en,
            Area::Group { name, .. } => name,
        }
    }

    /// Why figures are not written for this area, if they are not.
    pub(crate) fn not_written(self) -> Option<String> {
        match self {
            Area::Group {
                code,
                name,
                grouping,
            } => Some(format!(
                "{code} ({name}) is {}: its figures are put together from its \
                 municipalities', which are written instead",
                grouping.what()
            )),
            _ => None,
        }
    }

    /// Whether a figure of `year` on `borders` can be for this area: the area had not ended
    /// by then, and it was in force on those borders (without borders, in the figure's
    /// year). `Err` names the field at fault (`year` or `borders`) and says why not.
    pub(crate) fn in_force(
        self,
        borders: Option<i32>,
        year: i32,
    ) -> Result<(), (&'static str, String)> {
        let (on, ended, years, what) = match self {
            Area::Region(r) => (
                r.in_force(borders.unwrap_or(year)),
                r.last_year,
                r.years().unwrap_or_default(),
                "a region",
            ),
            Area::Municipality(m) => (
                m.placement(borders.unwrap_or(year)).is_some(),
                // Only a municipality that merged into another has ended.
                m.joined
                    .as_ref()
                    .and_then(|_| m.placements.last().map(|p| p.last_year)),
                m.years(),
                "a municipality",
            ),
            // Never written (`not_written`): nothing to say of its years.
            Area::Group { .. } => return Ok(()),
        };
        let (code, name) = (self.code(), self.name_en());
        if ended.is_some_and(|l| year > l) || (!on && borders.is_none()) {
            return Err((
                "year",
                format!("{code} ({name}) was {what} {years}: it has no figure of {year}"),
            ));
        }
        match borders {
            Some(d) if !on => Err((
                "borders",
                format!(
                    "{code} ({name}) is not an area of the borders of {d}: it was {what} {years}"
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// The borders a picture is read on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Borders {
    /// The latest division: every year on the same borders, comparable series.
    #[default]
    Latest,
    /// Each year on its own borders: those its figures are published on, the division in
    /// force on the 1 January after it (Statistics Finland publishes 31.12.2020 on the
    /// borders of 1.1.2021).
    Own,
    /// The division of this year.
    Of(i32),
}

impl Borders {
    /// Parses what a request says: empty or `latest`, `own`, or a division's year.
    pub(crate) fn parse(s: &str) -> Result<Borders, String> {
        match s.trim() {
            "" | "latest" => Ok(Borders::Latest),
            "own" => Ok(Borders::Own),
            y => super::text::plain_year(y).map(Borders::Of).ok_or_else(|| {
                format!(
                    "{:?} must be latest, own, or a division's year",
                    super::text::clip(y)
                )
            }),
        }
    }
}

impl Catalog {
    /// Resolves an area code: a region (or Statistics Finland's number for it) or a
    /// municipality.
    pub(crate) fn resolve_area(&self, code: &str) -> Option<Area<'_>> {
        if let Some(m) = self.municipalities.get(code) {
            return Some(Area::Municipality(m));
        }
        if let Some(grouping) = Grouping::of_code(code) {
            // The name of its latest placement.
            return self
                .municipalities
                .values()
                .flat_map(|m| &m.placements)
                .filter(|p| p.code(grouping) == Some(code))
                .max_by_key(|p| p.last_year)
                .and_then(|p| {
                    Some(Area::Group {
                        code: p.code(grouping)?,
                        name: p.group_name(grouping)?,
                        grouping,
                    })
                });
        }
        self.resolve_region(code).map(Area::Region)
    }

    /// The sub-regions or counties (`grouping`) of division `d`: code → name.
    pub(crate) fn groups_on(&self, grouping: Grouping, d: i32) -> BTreeMap<&str, &str> {
        self.municipalities_on(d)
            .filter_map(|m| m.placement(d))
            .filter_map(|p| Some((p.code(grouping)?, p.group_name(grouping)?)))
            .collect()
    }

    /// The municipalities of division `d` that lie in `area` (a region, sub-region or
    /// county of `grouping`), in code order.
    pub(crate) fn members_on(&self, area: &str, grouping: Grouping, d: i32) -> Vec<&str> {
        self.municipalities_on(d)
            .filter(|m| m.group(grouping, d) == Some(area))
            .map(|m| m.code.as_str())
            .collect()
    }

    /// The region whose reporters write `area`'s figures on the division in force in
    /// `year`: a region its own, a municipality the region it lies in (`None` when it lies
    /// in none then).
    pub(crate) fn reporting_region<'a>(&'a self, area: &'a str, year: i32) -> Option<&'a str> {
        match self.municipalities.get(area) {
            Some(m) => m.region(self.division_in_force(year).unwrap_or(year)),
            None => Some(area),
        }
    }

    /// The division in force in `year`: the latest that began at or before it.
    pub(crate) fn division_in_force(&self, year: i32) -> Option<i32> {
        self.divisions.range(..=year).next_back().map(|(y, _)| *y)
    }

    /// The division a picture of `year` is on (`None`: the catalog has no division, and
    /// figures carry no borders); `Err` when a given division does not exist.
    pub(crate) fn resolve_borders(&self, b: Borders, year: i32) -> Result<Option<i32>, String> {
        match b {
            _ if self.divisions.is_empty() => Ok(None),
            Borders::Latest => Ok(self.divisions.keys().next_back().copied()),
            // A year before every division: on the first one there is.
            Borders::Own => Ok(self
                .division_in_force(year.saturating_add(1))
                .or_else(|| self.divisions.keys().next().copied())),
            Borders::Of(d) => self.known_division(d).map(|()| Some(d)),
        }
    }

    /// Whether the catalog holds the division of year `d`; `Err` says why it is refused,
    /// naming the divisions there are.
    pub(crate) fn known_division(&self, d: i32) -> Result<(), String> {
        if self.divisions.contains_key(&d) {
            return Ok(());
        }
        Err(
            match (
                self.divisions.keys().next(),
                self.divisions.keys().next_back(),
            ) {
                (Some(f), Some(l)) => format!(
                    "there is no division of {d}: the catalog holds the borders of {f}-{l} \
                     (ListDivisions)"
                ),
                _ => format!("there is no division of {d}: the catalog holds no divisions"),
            },
        )
    }

    /// Whether division `d` says where its municipalities lie.
    pub(crate) fn has_membership(&self, d: i32) -> bool {
        self.municipalities
            .values()
            .any(|m| m.placement(d).is_some())
    }

    /// The municipalities of division `d`, in code order.
    pub(crate) fn municipalities_on(&self, d: i32) -> impl Iterator<Item = &Municipality> {
        self.municipalities
            .values()
            .filter(move |m| m.placement(d).is_some())
    }

    /// The regions of a division (`None`: of the year's own regions, the catalog having no
    /// divisions), in code order, without the whole country.
    pub(crate) fn regions_on(
        &self,
        borders: Option<i32>,
        year: i32,
    ) -> impl Iterator<Item = &super::Region> {
        self.compared_regions(borders.unwrap_or(year))
    }

    /// What `code` (a municipality in force on `from`) is on the later borders `to`: itself,
    /// or the municipality it merged into. `None` when its successor is not known.
    pub(crate) fn successor<'a>(&'a self, code: &'a str, to: i32) -> Option<&'a Municipality> {
        let mut m = self.municipalities.get(code)?;
        for _ in 0..MAX_MERGER_STEPS {
            if m.placement(to).is_some() {
                return Some(m);
            }
            // Ended before `to`: what it joined (a municipality that had not begun by `to`
            // cannot be reached this way).
            m = self.municipalities.get(m.joined.as_deref()?)?;
        }
        None
    }

    /// The area of `grouping` (region, sub-region or county) of division `d` each
    /// municipality of division `m` lies wholly in (`None` for one that is split between
    /// areas of `d`, or whose place on `d` is not known). Computed once per catalog, pair of
    /// divisions and grouping.
    pub(crate) fn placed_on(&self, m: i32, d: i32, grouping: Grouping) -> Arc<Placed> {
        let key = (m, d, grouping);
        if let Some(p) = self.cache.placed.lock().get(&key) {
            return p.clone();
        }
        let p = Arc::new(self.compute_placed_on(m, d, grouping));
        self.cache.placed.lock().insert(key, p.clone());
        p
    }

    fn compute_placed_on(&self, m: i32, d: i32, grouping: Grouping) -> Placed {
        let owned = |r: Option<&str>| r.map(str::to_owned);
        if m <= d {
            return self
                .municipalities_on(m)
                .map(|x| {
                    let region = self
                        .successor(&x.code, d)
                        .and_then(|s| s.group(grouping, d));
                    (x.code.clone(), owned(region))
                })
                .collect();
        }
        // Later municipal borders than the division: a municipality of `m` lies in one
        // region of `d` when every part it was made of lay in that region.
        let mut parts: HashMap<&str, Vec<Option<&str>>> = HashMap::new();
        for y in self.municipalities_on(d) {
            match self.successor(&y.code, m) {
                Some(s) => parts.entry(&s.code).or_default().push(y.group(grouping, d)),
                // Its place on `m` is not known: nothing can be said of any.
                None => {
                    return self
                        .municipalities_on(m)
                        .map(|x| (x.code.clone(), None))
                        .collect()
                }
            }
        }
        self.municipalities_on(m)
            .map(|x| {
                let region = match parts.get(x.code.as_str()).map(Vec::as_slice) {
                    Some([first, rest @ ..]) if rest.iter().all(|r| r == first) => *first,
                    _ => None,
                };
                (x.code.clone(), owned(region))
            })
            .collect()
    }

    /// Whether `area` (a region, sub-region or county of `grouping`) covers the same land on
    /// divisions `a` and `b`: both say where their municipalities lie, and every
    /// municipality lies in the area on both or on neither.
    pub(crate) fn same_territory(&self, area: &str, grouping: Grouping, a: i32, b: i32) -> bool {
        if a == b {
            return true;
        }
        let (early, late) = (a.min(b), a.max(b));
        self.has_membership(early)
            && self.has_membership(late)
            && self.keeps_its_municipalities(area, grouping, early, late)
    }

    /// Whether every municipality of `early` is in `area` on `early` exactly when what it
    /// is on `late` (itself, or what it merged into) is in `area` on `late`, and every
    /// municipality of `area` on `late` is one of those (none came from elsewhere).
    fn keeps_its_municipalities(
        &self,
        area: &str,
        grouping: Grouping,
        early: i32,
        late: i32,
    ) -> bool {
        let mut inside = std::collections::BTreeSet::new();
        for x in self.municipalities_on(early) {
            let Some(s) = self.successor(&x.code, late) else {
                return false;
            };
            let was_in = x.group(grouping, early) == Some(area);
            if was_in != (s.group(grouping, late) == Some(area)) {
                return false;
            }
            if was_in {
                inside.insert(s.code.as_str());
            }
        }
        self.municipalities_on(late)
            .filter(|y| y.group(grouping, late) == Some(area))
            .all(|y| inside.contains(y.code.as_str()))
    }

    /// The land `area` covers on borders `d`, named by the first division of the run of
    /// consecutive divisions ending at `d` on which it covers the same land: figures on
    /// borders with the same land are one figure (a later one revises it), figures on
    /// borders with other land are different figures. Uusimaa's land is the same from 2013
    /// to 2026, Etelä-Savo's changed on 1.1.2021 (2013 and 2021); the whole country's never
    /// changes. Borders that are not a division (or `None`) are their own land.
    pub(crate) fn land(&self, area: &str, d: Option<i32>) -> Option<i32> {
        let d = d?;
        if !self.divisions.contains_key(&d) {
            return Some(d);
        }
        if let Some(first) = self.cache.land.read().get(area).and_then(|m| m.get(&d)) {
            return Some(*first);
        }
        // The land of the division before, when the area covers the same land on both (each
        // pair of consecutive divisions is compared once: the earlier land is memoized).
        let before = self.divisions.range(..d).next_back().map(|(y, _)| *y);
        let first = match before {
            Some(b) if self.same_land(area, b, d) => self.land(area, Some(b)).unwrap_or(b),
            _ => d,
        };
        self.cache
            .land
            .write()
            .entry(area.to_owned())
            .or_default()
            .insert(d, first);
        Some(first)
    }

    /// Whether `area` (the whole country, a municipality, a region, sub-region or county)
    /// covers the same land on divisions `a` and `b`.
    fn same_land(&self, area: &str, a: i32, b: i32) -> bool {
        if area == NATIONAL_CODE {
            true
        } else if is_municipality_code(area) {
            self.same_municipality(area, a, b)
        } else {
            let grouping = Grouping::of_code(area).unwrap_or(Grouping::Region);
            self.same_territory(area, grouping, a, b)
        }
    }

    /// The divisions on which `area` covers different land, each land named by its latest
    /// division, latest first: one per set of borders its figures can be on.
    pub(crate) fn lands(&self, area: &str) -> Vec<i32> {
        let mut out: Vec<i32> = Vec::new();
        let mut seen = Vec::new();
        for d in self.divisions.keys().rev().copied() {
            let land = self.land(area, Some(d));
            if !seen.contains(&land) {
                seen.push(land);
                out.push(d);
            }
        }
        out
    }

    /// Whether municipality `code` covers the same land on divisions `a` and `b`: in force
    /// on both, and no municipality merged into it in between.
    pub(crate) fn same_municipality(&self, code: &str, a: i32, b: i32) -> bool {
        let (early, late) = (a.min(b), a.max(b));
        let Some(m) = self.municipalities.get(code) else {
            return false;
        };
        m.placement(early).is_some()
            && m.placement(late).is_some()
            && !self.municipalities.values().any(|y| {
                y.joined.as_deref() == Some(code)
                    && y.placements
                        .last()
                        .is_some_and(|p| early <= p.last_year && p.last_year < late)
            })
    }

    /// This catalog with the municipalities of a key file, the mergers of merger files and
    /// the divisions of a division file, checked against its regions.
    pub(crate) fn with_areas(
        mut self,
        key: &str,
        mergers: &[&str],
        divisions: &str,
    ) -> Result<Catalog, CatalogError> {
        let mut municipalities = parse_key(key)?;
        let mut all = Vec::new();
        for text in mergers {
            all.extend(parse_mergers(text)?);
        }
        for (code, joined) in all {
            // A municipality that ended before the key began is not one of its areas.
            if let Some(m) = municipalities.get_mut(&code) {
                m.joined = Some(joined);
            }
        }
        for m in municipalities.values() {
            self.check_municipality(m).map_err(CatalogError::Invalid)?;
        }
        self.municipalities = municipalities;
        for (line, d) in parse_divisions(divisions)? {
            self.check_division(&d)
                .map_err(|message| CatalogError::Line { line, message })?;
            if self.divisions.insert(d.year, d).is_some() {
                return Err(CatalogError::Line {
                    line,
                    message: "the division's year is given twice".into(),
                });
            }
        }
        Ok(self)
    }

    /// Checks a municipality against this catalog's regions and limits.
    pub(crate) fn check_municipality(&self, m: &Municipality) -> Result<(), String> {
        m.check()?;
        if !self.municipalities.contains_key(&m.code)
            && self.municipalities.len() >= MAX_MUNICIPALITIES
        {
            return Err(format!(
                "the catalog holds {MAX_MUNICIPALITIES} municipalities, the most it takes"
            ));
        }
        for p in &m.placements {
            match self.regions.get(&p.region) {
                Some(r) if r.code != NATIONAL_CODE => {}
                _ => {
                    return Err(format!(
                        "{}: region {:?} is not a region of the catalog",
                        m.code,
                        super::text::clip(&p.region)
                    ))
                }
            }
        }
        Ok(())
    }

    /// Checks a division against this catalog's limits.
    pub(crate) fn check_division(&self, d: &Division) -> Result<(), String> {
        d.check()?;
        if !self.divisions.contains_key(&d.year) && self.divisions.len() >= MAX_DIVISIONS {
            return Err(format!(
                "the catalog holds {MAX_DIVISIONS} divisions, the most it takes"
            ));
        }
        Ok(())
    }
}

/// The municipalities of a key file (`year,municipality,name_fi,name_sv,name_en,region,
/// sub_region,...,wellbeing_county,...`: one row per municipality and year), their
/// placements joined into spans of years; the names are those of the latest year.
fn parse_key(text: &str) -> Result<BTreeMap<String, Municipality>, CatalogError> {
    #[derive(Deserialize)]
    struct Row {
        year: i32,
        municipality: String,
        name_fi: String,
        name_sv: String,
        name_en: String,
        region: String,
        #[serde(default)]
        sub_region: String,
        #[serde(default)]
        sub_region_name_fi: String,
        #[serde(default)]
        wellbeing_county: String,
        #[serde(default)]
        wellbeing_county_name_fi: String,
    }
    let mut rows: Vec<(usize, Row)> = Vec::new();
    for row in super::catalog::rows::<Row>(text) {
        rows.push(row?);
    }
    rows.sort_by(|(_, a), (_, b)| (&a.municipality, a.year).cmp(&(&b.municipality, b.year)));
    let mut out: BTreeMap<String, Municipality> = BTreeMap::new();
    for (line, r) in rows {
        if !(1000..=9999).contains(&r.year) {
            return Err(CatalogError::Line {
                line,
                message: format!("year {} must be within 1000..9999", r.year),
            });
        }
        let m = out
            .entry(r.municipality.clone())
            .or_insert_with(|| Municipality {
                code: r.municipality.clone(),
                name_fi: String::new(),
                name_sv: String::new(),
                name_en: String::new(),
                placements: Vec::new(),
                joined: None,
            });
        (m.name_fi, m.name_sv, m.name_en) = (r.name_fi, r.name_sv, r.name_en);
        match m.placements.last_mut() {
            Some(p) if p.last_year == r.year => {
                return Err(CatalogError::Line {
                    line,
                    message: format!("{} is given twice for {}", r.municipality, r.year),
                })
            }
            Some(p)
                if p.last_year + 1 == r.year
                    && p.region == r.region
                    && p.sub_region == r.sub_region
                    && p.sub_region_name == r.sub_region_name_fi
                    && p.county == r.wellbeing_county
                    && p.county_name == r.wellbeing_county_name_fi =>
            {
                p.last_year = r.year
            }
            _ => m.placements.push(Placement {
                first_year: r.year,
                last_year: r.year,
                region: r.region,
                sub_region: r.sub_region,
                sub_region_name: r.sub_region_name_fi,
                county: r.wellbeing_county,
                county_name: r.wellbeing_county_name_fi,
            }),
        }
    }
    Ok(out)
}

/// The mergers of a merger file (`date,municipality,name_fi,joined,joined_name_fi`): the
/// municipality that ended, the one it joined.
fn parse_mergers(text: &str) -> Result<Vec<(String, String)>, CatalogError> {
    #[derive(Deserialize)]
    struct Row {
        municipality: String,
        joined: String,
    }
    let mut out = Vec::new();
    for row in super::catalog::rows::<Row>(text) {
        let (line, r) = row?;
        if !is_municipality_code(&r.municipality) || !is_municipality_code(&r.joined) {
            return Err(CatalogError::Line {
                line,
                message: "municipality and joined must be municipality codes (KU###)".into(),
            });
        }
        out.push((r.municipality, r.joined));
    }
    Ok(out)
}

/// The divisions of a division file (`year,source`).
pub(crate) fn parse_divisions(text: &str) -> Result<Vec<(usize, Division)>, CatalogError> {
    super::catalog::rows::<Division>(text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_key_places_every_municipality_and_knows_the_2021_moves() {
        let c = Catalog::bundled();
        assert_eq!(c.municipalities_on(2013).count(), 320);
        assert_eq!(c.municipalities_on(2021).count(), 309);
        assert_eq!(c.municipalities_on(2026).count(), 308);
        let heinavesi = &c.municipalities["KU090"];
        assert_eq!(heinavesi.region(2020), Some("MK10"));
        assert_eq!(heinavesi.region(2021), Some("MK12"));
        // Pertunmaa joined Mäntyharju on 1.1.2025.
        assert_eq!(c.municipalities["KU588"].joined.as_deref(), Some("KU507"));
        assert_eq!(c.municipalities["KU588"].years(), "2013-2024");
    }

    #[test]
    fn sub_regions_and_counties_are_areas_of_the_key() {
        let c = Catalog::bundled();
        assert_eq!(c.groups_on(Grouping::SubRegion, 2013).len(), 70);
        assert_eq!(c.groups_on(Grouping::SubRegion, 2026).len(), 69);
        assert_eq!(c.groups_on(Grouping::County, 2013).len(), 0);
        assert_eq!(c.groups_on(Grouping::County, 2026).len(), 23);
        let helsinki = c.resolve_area("SK011").expect("a sub-region");
        assert_eq!((helsinki.code(), helsinki.name_en()), ("SK011", "Helsinki"));
        assert!(helsinki.not_written().unwrap().contains("a sub-region"));
        assert_eq!(c.members_on("SK011", Grouping::SubRegion, 2026).len(), 17);
        assert_eq!(c.members_on("HV90", Grouping::County, 2026), ["KU091"]);
        assert!(c.resolve_area("SK999").is_none());
        assert!(c.resolve_area("KU091").unwrap().not_written().is_none());
        // Its land: the same while no municipality entered or left it.
        assert_eq!(c.land("SK011", Some(2026)), c.land("SK011", Some(2021)));
    }

    #[test]
    fn a_region_is_the_same_land_across_mergers_but_not_across_moves() {
        let c = Catalog::bundled();
        // Uusimaa: no municipality moved in or out 2013-2026 (mergers inside it only).
        assert!(c.same_territory("MK01", Grouping::Region, 2013, 2026));
        // Etelä-Savo lost Heinävesi and Joroinen on 1.1.2021.
        assert!(c.same_territory("MK10", Grouping::Region, 2019, 2020));
        assert!(!c.same_territory("MK10", Grouping::Region, 2020, 2021));
        assert!(
            c.same_territory("MK10", Grouping::Region, 2021, 2026),
            "Pertunmaa merged inside it"
        );
        // Borders before the key say nothing of their municipalities.
        assert!(!c.same_territory("MK01", Grouping::Region, 2010, 2013));
        assert!(c.same_territory("MK01", Grouping::Region, 2010, 2010));
    }

    #[test]
    fn a_municipality_of_later_borders_lies_in_one_region_of_earlier_ones() {
        let c = Catalog::bundled();
        let on_2020 = c.placed_on(2021, 2020, Grouping::Region);
        assert_eq!(
            on_2020["KU090"].as_deref(),
            Some("MK10"),
            "Heinävesi lay in Etelä-Savo"
        );
        assert_eq!(on_2020["KU091"].as_deref(), Some("MK01"));
        let on_2026 = c.placed_on(2021, 2026, Grouping::Region);
        assert_eq!(
            on_2026["KU588"].as_deref(),
            Some("MK10"),
            "through Mäntyharju"
        );
        assert!(on_2026.values().all(Option::is_some));
        assert!(c
            .placed_on(2021, 2013, Grouping::Region)
            .values()
            .all(Option::is_some));
    }

    #[test]
    fn borders_parse_and_resolve() {
        let c = Catalog::bundled();
        assert_eq!(Borders::parse("").unwrap(), Borders::Latest);
        assert_eq!(Borders::parse("own").unwrap(), Borders::Own);
        assert_eq!(Borders::parse("2020").unwrap(), Borders::Of(2020));
        assert!(Borders::parse("20x0").is_err());
        assert_eq!(c.resolve_borders(Borders::Latest, 2006), Ok(Some(2026)));
        assert_eq!(c.resolve_borders(Borders::Own, 2020), Ok(Some(2021)));
        assert_eq!(c.resolve_borders(Borders::Own, 2026), Ok(Some(2026)));
        assert_eq!(c.resolve_borders(Borders::Own, 1990), Ok(Some(2000)));
        let e = c.resolve_borders(Borders::Of(1999), 2006).unwrap_err();
        assert!(e.contains("no division of 1999"), "{e}");
        assert_eq!(
            Catalog::default().resolve_borders(Borders::Latest, 2006),
            Ok(None)
        );
    }
}
