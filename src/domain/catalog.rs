//! Region and indicator catalogs: their types, the bundled Finnish defaults, and parsing
//! catalog files (CSV) so that another country's regions can be loaded from a file.
//!
//! Peer groups (`RegionGroup`) are catalog data too, and reporting rounds (`Round`) are
//! checked against the catalog here.
//!
//! The catalog enters the log as events (`RegionDefined`, `IndicatorDefined`,
//! `GroupDefined`) on first start; after that the log, not these files, is the truth.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::text;

use super::areas::{
    AreaCache, Division, Municipality, BUNDLED_DIVISIONS, BUNDLED_MERGERS, BUNDLED_MUNICIPALITIES,
};

/// The code of the whole country. A value reported for it is the official national figure.
pub const NATIONAL_CODE: &str = "SSS";

/// The bundled region catalog (19 Finnish regions and the whole country).
pub(crate) const BUNDLED_REGIONS: &str = include_str!("../../data/regions.csv");
/// The bundled indicator catalog.
pub(crate) const BUNDLED_INDICATORS: &str = include_str!("../../data/indicators.csv");
/// The bundled peer groups of the bundled regions: the NUTS-2 large areas.
pub(crate) const BUNDLED_GROUPS: &str = include_str!("../../data/groups.csv");
/// The national targets with their sources (data/README.md says which are left out, why).
pub(crate) const BUNDLED_TARGETS: &str = include_str!("../../data/targets.csv");

/// Errors in a catalog file or definition.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(crate) enum CatalogError {
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The five themes of the national regional development decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Theme {
    Climate,
    Communities,
    Competence,
    Inclusion,
    Business,
}

impl Theme {
    pub(crate) const ALL: [Theme; 5] = [
        Theme::Climate,
        Theme::Communities,
        Theme::Competence,
        Theme::Inclusion,
        Theme::Business,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Theme::Climate => "climate",
            Theme::Communities => "communities",
            Theme::Competence => "competence",
            Theme::Inclusion => "inclusion",
            Theme::Business => "business",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Which way is better for an indicator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    HigherIsBetter,
    LowerIsBetter,
    Neutral,
}

impl Direction {
    const ALL: [Direction; 3] = [
        Direction::HigherIsBetter,
        Direction::LowerIsBetter,
        Direction::Neutral,
    ];

    /// Its name in a catalog file.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Direction::HigherIsBetter => "higher_is_better",
            Direction::LowerIsBetter => "lower_is_better",
            Direction::Neutral => "neutral",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Direction> {
        Direction::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// +1, or −1 where lower is better: a change times it is an improvement.
    pub(crate) fn sign(self) -> f64 {
        if self == Direction::LowerIsBetter {
            -1.0
        } else {
            1.0
        }
    }
}

/// How the national value follows from the regions' values (docs/architecture.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Aggregation {
    /// Σ regional values.
    Sum,
    /// Σ v·w / Σ w over regions having both a value and a weight.
    WeightedMean { weight: String },
    /// Σ num / Σ den × scale over regions having both.
    Ratio {
        numerator: String,
        denominator: String,
        scale: f64,
    },
    /// Only a value reported for `SSS`.
    NationalOnly,
}

impl Aggregation {
    /// The rule's name in a catalog file (its `aggregation` column).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Aggregation::Sum => "sum",
            Aggregation::WeightedMean { .. } => "weighted_mean",
            Aggregation::Ratio { .. } => "ratio",
            Aggregation::NationalOnly => "national_only",
        }
    }

    /// Indicators this rule reads besides the indicator itself.
    pub(crate) fn components(&self) -> Vec<&str> {
        match self {
            Aggregation::WeightedMean { weight } => vec![weight],
            Aggregation::Ratio {
                numerator,
                denominator,
                ..
            } => vec![numerator, denominator],
            _ => vec![],
        }
    }
}

/// What an indicator's values are. Only targets and forecasts may be given for years after
/// the current one: for measured figures such a year is a typo that would become permanent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum IndicatorKind {
    /// Measured figures.
    #[default]
    Observed,
    /// Policy targets (an emissions target for 2035).
    Target,
    /// Projections (a population projection).
    Forecast,
}

impl IndicatorKind {
    const ALL: [IndicatorKind; 3] = [
        IndicatorKind::Observed,
        IndicatorKind::Target,
        IndicatorKind::Forecast,
    ];

    /// Its name in a catalog file.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Observed => "observed",
            IndicatorKind::Target => "target",
            IndicatorKind::Forecast => "forecast",
        }
    }

    /// A name of a catalog file; empty is observed.
    pub(crate) fn parse(s: &str) -> Option<IndicatorKind> {
        match s {
            "" => Some(IndicatorKind::Observed),
            s => IndicatorKind::ALL.into_iter().find(|k| k.as_str() == s),
        }
    }

    /// Whether values for years after the current one are accepted.
    pub fn allows_future_years(self) -> bool {
        self != IndicatorKind::Observed
    }
}

/// A region of the catalog. A region that ended (Itä-Uusimaa, merged into Uusimaa on
/// 1.1.2011) stays in the catalog with the years it was in force: its figures of those
/// years are compared with the other regions of the year, and no figure of a later year is
/// taken for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub code: String,
    /// Statistics Finland's numeric code ("01"), accepted on input as an alias.
    pub(crate) statfin_code: String,
    pub(crate) name_fi: String,
    pub(crate) name_sv: String,
    pub name_en: String,
    pub(crate) nuts3: String,
    /// The first year the region was in force (from 1 January); `None`: no bound known.
    #[serde(default)]
    pub(crate) first_year: Option<i32>,
    /// The last year the region was in force (to 31 December); `None`: it still is.
    #[serde(default)]
    pub(crate) last_year: Option<i32>,
}

impl Region {
    /// Whether the region was in force in `year`.
    pub(crate) fn in_force(&self, year: i32) -> bool {
        self.first_year.is_none_or(|f| f <= year) && self.last_year.is_none_or(|l| year <= l)
    }

    /// The years it was in force, in words ("until 2010"), or `None` when it has no bound.
    pub(crate) fn years(&self) -> Option<String> {
        match (self.first_year, self.last_year) {
            (None, None) => None,
            (Some(f), None) => Some(format!("from {f}")),
            (None, Some(l)) => Some(format!("until {l}")),
            (Some(f), Some(l)) => Some(format!("{f}-{l}")),
        }
    }
}

/// An indicator of the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    pub id: String,
    pub(crate) name_fi: String,
    pub(crate) name_en: String,
    pub(crate) theme: Theme,
    pub(crate) unit: String,
    pub(crate) decimals: u32,
    pub(crate) direction: Direction,
    pub min_value: Option<f64>,
    pub max_value: Option<f64>,
    pub(crate) aggregation: Aggregation,
    /// First year accepted: when the statistic begins.
    pub min_year: i32,
    /// Last year accepted; `None` = no bound of its own (an observed indicator still takes
    /// no year after the current one, see [`Indicator::check_year`]).
    #[serde(default)]
    pub max_year: Option<i32>,
    #[serde(default)]
    pub kind: IndicatorKind,
}

/// Longest id accepted for an indicator: ids appear in metric labels and URLs.
pub(crate) const MAX_INDICATOR_ID_LEN: usize = 64;
/// Longest name or unit: enough for any real name, small enough to keep events small.
pub(crate) const MAX_NAME_LEN: usize = 256;

/// Checks a name or unit: 1-[`MAX_NAME_LEN`] bytes on one line, without control
/// characters.
pub(crate) fn check_name(field: &str, v: &str) -> Result<(), String> {
    if v.trim().is_empty() || v.len() > MAX_NAME_LEN {
        return Err(format!("{field} must be 1-{MAX_NAME_LEN} bytes"));
    }
    match text::control_characters(v, text::Lines::One) {
        Some(why) => Err(format!("{field} {why}")),
        None => Ok(()),
    }
}

impl Indicator {
    /// Whether its regional figures compare regions as they are: a rate, a share or an
    /// amount per head (a ratio or a weighted mean), not a count that mostly measures a
    /// region's size (a sum). Only these make theme scores.
    pub(crate) fn compares_regions(&self) -> bool {
        matches!(
            self.aggregation,
            Aggregation::Ratio { .. } | Aggregation::WeightedMean { .. }
        )
    }

    /// Whether it is in the similar areas' default set when enough areas reported it: it
    /// says which way is better and compares areas as they are (not a count, which would
    /// make areas of one size alike).
    pub(crate) fn likens_areas(&self) -> bool {
        self.direction != Direction::Neutral && self.compares_regions()
    }

    /// Checks the definition on its own (not its references to other indicators).
    pub(crate) fn check(&self) -> Result<(), String> {
        let id_ok = !self.id.is_empty()
            && self.id.len() <= MAX_INDICATOR_ID_LEN
            && self.id.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !id_ok {
            return Err(format!(
                "id {:?} must be snake_case (a-z, 0-9, _), 1-{MAX_INDICATOR_ID_LEN} characters, starting with a letter",
                self.id
            ));
        }
        for (field, v) in [
            ("name_fi", &self.name_fi),
            ("name_en", &self.name_en),
            ("unit", &self.unit),
        ] {
            check_name(field, v)?;
        }
        if self.decimals > 9 {
            return Err("decimals must be 0-9".into());
        }
        for v in [self.min_value, self.max_value].into_iter().flatten() {
            if !v.is_finite() {
                return Err("min_value and max_value must be finite".into());
            }
        }
        if let (Some(lo), Some(hi)) = (self.min_value, self.max_value) {
            if lo > hi {
                return Err(format!("min_value {lo} is above max_value {hi}"));
            }
        }
        let max = self.max_year.unwrap_or(9999);
        if self.min_year > max || self.min_year < 1000 || max > 9999 {
            return Err(format!(
                "year range {}..{} must be ordered and within 1000..9999",
                self.min_year, max
            ));
        }
        match &self.aggregation {
            Aggregation::Ratio { scale, .. } if !(scale.is_finite() && *scale > 0.0) => {
                return Err("ratio scale must be finite and positive".into())
            }
            _ => {}
        }
        if self.aggregation.components().contains(&self.id.as_str()) {
            return Err("an indicator cannot aggregate by itself".into());
        }
        Ok(())
    }

    /// Whether a value for `year` is accepted, `current_year` being the year of the
    /// server's record time: within the indicator's range, and not after the current year
    /// unless the indicator is a target or forecast. `Err` says why not.
    pub(crate) fn check_year(&self, year: i32, current_year: i32) -> Result<(), String> {
        if year < self.min_year {
            return Err(format!(
                "year {year} is before {}, the first year of {}",
                self.min_year, self.id
            ));
        }
        // Without a last year of its own, 9999: years are four digits everywhere.
        if let Some(max) = Some(self.max_year.unwrap_or(9999)).filter(|max| year > *max) {
            return Err(format!(
                "year {year} is after {max}, the last year of {}",
                self.id
            ));
        }
        if year > current_year && !self.kind.allows_future_years() {
            return Err(format!(
                "year {year} is after the current year {current_year}: {} is an observed \
                 indicator, so no value for a coming year exists yet (only target and forecast \
                 indicators take future years)",
                self.id
            ));
        }
        Ok(())
    }

    /// The years a series covers by default: its range, up to `current_year` for an
    /// observed indicator without an upper bound of its own.
    pub(crate) fn default_years(&self, current_year: i32) -> (i32, i32) {
        let last = match (self.max_year, self.kind.allows_future_years()) {
            (Some(max), _) => max,
            (None, true) => self.min_year.max(current_year) + 100,
            (None, false) => current_year,
        };
        (self.min_year, last.max(self.min_year))
    }
}

/// A peer group: named regions that relate their figures to each other as well as to the
/// whole country (the NUTS-2 large areas, or any grouping an admin defines). Catalog data:
/// it enters the log as an event, and a picture uses the groups as they were.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionGroup {
    pub(crate) id: String,
    pub(crate) name_fi: String,
    pub(crate) name_sv: String,
    pub(crate) name_en: String,
    /// Member region codes (compared regions), in code order.
    pub(crate) members: Vec<String>,
    /// Where the grouping comes from: the classification or decision that defines it.
    pub(crate) source: String,
}

/// Longest group id: ids appear in metric labels and URLs.
pub(crate) const MAX_GROUP_ID_LEN: usize = 32;
/// Longest source of a group definition.
pub(crate) const MAX_GROUP_SOURCE_LEN: usize = 512;

impl RegionGroup {
    /// The members in code order without repeats: the form a definition is recorded in.
    pub(crate) fn normalized(mut self) -> RegionGroup {
        self.members.sort();
        self.members.dedup();
        self
    }

    /// Whether `region` is a member.
    pub(crate) fn has(&self, region: &str) -> bool {
        self.members
            .binary_search_by(|m| m.as_str().cmp(region))
            .is_ok()
    }
}

/// A yearly reporting round: the ministry expects these indicators of these regions for
/// `year` by the deadline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Round {
    pub(crate) year: i32,
    /// Microseconds since the Unix epoch.
    pub(crate) deadline_micros: i64,
    /// Expected indicators, in id order.
    pub(crate) indicators: Vec<String>,
    /// Expected regions, in code order.
    pub(crate) regions: Vec<String>,
}

/// A target: the value an area should reach in an indicator by a year, with the source that
/// sets it (a government programme, an act, a council's strategy). An admin sets national
/// ones (`SSS`), a council its own region's. Setting the same area, indicator and year again
/// restates it from then on; the catalog keeps the latest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub(crate) area: String,
    pub(crate) indicator: String,
    pub(crate) year: i32,
    pub(crate) value: f64,
    /// Where the target is set (required: a target without one is a wish).
    pub(crate) source: String,
    /// What the target means beyond its number, or how it maps onto the indicator (may be
    /// empty).
    pub(crate) note: String,
}

/// Years a target may be set for: a real year, as for figures.
const TARGET_YEARS: std::ops::RangeInclusive<i32> = 1000..=9999;

/// A catalog: regions, indicators, peer groups, municipalities and divisions by code, id
/// and year (`super::areas` for the last two).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub(crate) regions: BTreeMap<String, Region>,
    pub indicators: BTreeMap<String, Indicator>,
    pub(crate) groups: BTreeMap<String, RegionGroup>,
    pub(crate) municipalities: BTreeMap<String, Municipality>,
    pub(crate) divisions: BTreeMap<i32, Division>,
    /// Targets in (indicator, area, year) order, each once.
    pub(crate) targets: Vec<Target>,
    #[serde(skip)]
    pub(crate) cache: AreaCache,
}

impl Catalog {
    /// The bundled Finnish catalog, with its peer groups, municipalities and divisions.
    pub fn bundled() -> Catalog {
        // The bundled files are tested (`bundled_catalog_is_valid`), so they parse.
        Catalog::from_csv(BUNDLED_REGIONS, BUNDLED_INDICATORS)
            .and_then(|c| c.with_groups(BUNDLED_GROUPS))
            .and_then(|c| c.with_areas(BUNDLED_MUNICIPALITIES, &BUNDLED_MERGERS, BUNDLED_DIVISIONS))
            .and_then(|c| c.with_targets(BUNDLED_TARGETS))
            .expect("the bundled catalog is valid")
    }

    /// This catalog with the peer groups of a group file (CSV: `id,name_fi,name_sv,name_en,
    /// members,source`, members separated by spaces), each checked against its regions.
    pub(crate) fn with_groups(mut self, text: &str) -> Result<Catalog, CatalogError> {
        for (line, g) in parse_groups(text)? {
            self.check_group(&g)
                .map_err(|message| CatalogError::Line { line, message })?;
            if self.groups.insert(g.id.clone(), g).is_some() {
                return Err(CatalogError::Line {
                    line,
                    message: "the group id is given twice".into(),
                });
            }
        }
        Ok(self)
    }

    /// This catalog with the targets of a target file (CSV: `area,indicator,year,value,
    /// source,note`), each checked against it.
    pub(crate) fn with_targets(mut self, text: &str) -> Result<Catalog, CatalogError> {
        for row in rows::<Target>(text) {
            let (line, t) = row?;
            self.check_target(&t)
                .map_err(|(field, why)| CatalogError::Line {
                    line,
                    message: format!("{field}: {why}"),
                })?;
            self.set_target(t);
        }
        Ok(self)
    }

    /// Checks a group definition against this catalog's regions.
    pub(crate) fn check_group(&self, g: &RegionGroup) -> Result<(), String> {
        let id_ok = !g.id.is_empty()
            && g.id.len() <= MAX_GROUP_ID_LEN
            && g.id.starts_with(|c: char| c.is_ascii_alphanumeric())
            && g.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !id_ok {
            return Err(format!(
                "group id {:?} must be 1-{MAX_GROUP_ID_LEN} ASCII letters, digits, _ or -, starting with a letter or digit",
                crate::domain::text::clip(&g.id)
            ));
        }
        if self.regions.contains_key(&g.id) {
            return Err(format!("group id {} is a region code", g.id));
        }
        for (field, v) in [
            ("name_fi", &g.name_fi),
            ("name_sv", &g.name_sv),
            ("name_en", &g.name_en),
        ] {
            check_name(field, v)?;
        }
        if let Some(why) = text::control_characters(&g.source, text::Lines::One) {
            return Err(format!("source {why}"));
        }
        if g.source.trim().is_empty() || g.source.len() > MAX_GROUP_SOURCE_LEN {
            return Err(format!(
                "source must name where the grouping comes from (1-{MAX_GROUP_SOURCE_LEN} bytes)"
            ));
        }
        if g.members.is_empty() {
            return Err("a group needs at least one member region".into());
        }
        if !self.groups.contains_key(&g.id) && self.groups.len() >= crate::limits::MAX_GROUPS {
            return Err(format!(
                "the catalog holds {} groups, the most it takes (redefine one instead)",
                crate::limits::MAX_GROUPS
            ));
        }
        for m in &g.members {
            match self.regions.get(m) {
                Some(r) if r.code != NATIONAL_CODE => {}
                Some(_) => {
                    return Err(format!(
                        "{NATIONAL_CODE}, the whole country, cannot be a member"
                    ))
                }
                None => {
                    return Err(format!(
                        "member {:?} is not a region of the catalog",
                        crate::domain::text::clip(m)
                    ))
                }
            }
        }
        if g.members.windows(2).any(|w| w[0] >= w[1]) {
            return Err("members must be distinct, in code order".into());
        }
        Ok(())
    }

    /// The groups `region` is a member of, in id order.
    pub(crate) fn groups_of<'a>(
        &'a self,
        region: &'a str,
    ) -> impl Iterator<Item = &'a RegionGroup> {
        self.groups.values().filter(move |g| g.has(region))
    }

    /// Indicators that regions report for `year` (every indicator but those only the whole
    /// country has, within its years): what a reporting round expects by default.
    pub(crate) fn regional_indicators(
        &self,
        year: i32,
        current_year: i32,
    ) -> impl Iterator<Item = &Indicator> {
        self.indicators.values().filter(move |i| {
            i.aggregation != Aggregation::NationalOnly && i.check_year(year, current_year).is_ok()
        })
    }

    /// A round with its defaults resolved against the catalog: no indicators = every
    /// indicator regions report for the year, no regions = every region but `SSS`; region
    /// aliases (Statistics Finland's numbers) to codes; both lists in order, once each.
    pub(crate) fn resolve_round(&self, mut r: Round, current_year: i32) -> Round {
        let c = self;
        if r.indicators.is_empty() {
            r.indicators = c
                .regional_indicators(r.year, current_year)
                .map(|i| i.id.clone())
                .collect();
        }
        if r.regions.is_empty() {
            r.regions = c.compared_regions(r.year).map(|g| g.code.clone()).collect();
        }
        for code in &mut r.regions {
            if let Some(region) = c.resolve_region(code) {
                code.clone_from(&region.code);
            }
        }
        r.indicators.sort();
        r.indicators.dedup();
        r.regions.sort();
        r.regions.dedup();
        r
    }

    /// Checks a round against this catalog: a year, a deadline, indicators a region can
    /// report for the year — now, `current_year` being the server's —, and compared
    /// regions, each once and in order.
    pub(crate) fn check_round(
        &self,
        r: &Round,
        current_year: i32,
    ) -> Result<(), (&'static str, String)> {
        if !(1000..=9999).contains(&r.year) {
            return Err(("year", format!("year {} must be within 1000..9999", r.year)));
        }
        // `i64::MIN` stands for no deadline given (the API's request had none).
        if r.deadline_micros == i64::MIN {
            return Err(("deadline", "required".into()));
        }
        // 1970..=9999: a deadline is a real date.
        if !(0..=253_402_300_799_000_000).contains(&r.deadline_micros) {
            return Err(("deadline", "must be a time between 1970 and 9999".into()));
        }
        if r.indicators.is_empty() {
            return Err((
                "indicator_ids",
                format!(
                    "a round expects at least one indicator, and no indicator regions report \
                     takes a value for {} (as of {current_year})",
                    r.year
                ),
            ));
        }
        // Only what a region can report for the year, now: anything else would stay
        // missing, and the region overdue, until the year came (or for ever).
        for i in &r.indicators {
            let why = match self.indicators.get(i) {
                None => "unknown indicator".to_owned(),
                Some(ind) if ind.aggregation == Aggregation::NationalOnly => {
                    "only the whole country reports it".to_owned()
                }
                Some(ind) => match ind.check_year(r.year, current_year) {
                    Ok(()) => continue,
                    Err(why) => format!("it takes no value for the round's year: {why}"),
                },
            };
            return Err((
                "indicator_ids",
                format!("{:?}: {why}", crate::domain::text::clip(i)),
            ));
        }
        if r.regions.is_empty() {
            return Err(("region_codes", "a round expects at least one region".into()));
        }
        for c in &r.regions {
            match self.regions.get(c) {
                Some(reg) if reg.code != NATIONAL_CODE && reg.in_force(r.year) => {}
                Some(reg) if reg.code != NATIONAL_CODE => {
                    return Err((
                        "region_codes",
                        format!(
                            "{c} ({}) was not a region in {}: it was in force {}",
                            reg.name_en,
                            r.year,
                            reg.years().unwrap_or_default()
                        ),
                    ))
                }
                _ => {
                    return Err((
                        "region_codes",
                        format!(
                            "{:?} is not a region that reports (a catalog code other than {NATIONAL_CODE})",
                            crate::domain::text::clip(c)
                        ),
                    ))
                }
            }
        }
        let ordered = |v: &[String]| v.windows(2).all(|w| w[0] < w[1]);
        if !ordered(&r.indicators) {
            return Err(("indicator_ids", "must be distinct, in order".into()));
        }
        if !ordered(&r.regions) {
            return Err(("region_codes", "must be distinct, in order".into()));
        }
        Ok(())
    }

    /// Sets (or restates) a target, keeping the order and one target per key.
    pub(crate) fn set_target(&mut self, t: Target) {
        let key = |x: &Target| (x.indicator.clone(), x.area.clone(), x.year);
        match self.targets.binary_search_by_key(&key(&t), key) {
            Ok(i) => self.targets[i] = t,
            Err(i) => self.targets.insert(i, t),
        }
    }

    /// The targets of `indicator` (all when `None`) for `area` (all when `None`).
    pub(crate) fn targets_of<'a>(
        &'a self,
        indicator: Option<&'a str>,
        area: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Target> + 'a {
        self.targets.iter().filter(move |t| {
            indicator.is_none_or(|i| t.indicator == i) && area.is_none_or(|a| t.area == a)
        })
    }

    /// Checks a target against this catalog: a known area (the whole country, a region or
    /// a municipality), a directional indicator (a target says which way is better), a
    /// year, a value within the indicator's range, and a source.
    pub(crate) fn check_target(&self, t: &Target) -> Result<(), (&'static str, String)> {
        if self
            .resolve_area(&t.area)
            .is_none_or(|a| a.code() != t.area)
        {
            return Err((
                "area_code",
                format!(
                    "{:?} is not an area code of the catalog (SSS, a region or a municipality)",
                    text::clip(&t.area)
                ),
            ));
        }
        let Some(ind) = self.indicators.get(&t.indicator) else {
            return Err((
                "indicator_id",
                format!("unknown indicator {:?}", text::clip(&t.indicator)),
            ));
        };
        if ind.direction == Direction::Neutral {
            return Err((
                "indicator_id",
                format!(
                    "{} is neutral (context): with no better direction a target has no \
                     progress to measure",
                    ind.id
                ),
            ));
        }
        if !TARGET_YEARS.contains(&t.year) {
            return Err(("year", format!("year {} must be within 1000..9999", t.year)));
        }
        let in_range = t.value.is_finite()
            && ind.min_value.is_none_or(|lo| t.value >= lo)
            && ind.max_value.is_none_or(|hi| t.value <= hi);
        if !in_range {
            return Err((
                "value",
                format!(
                    "{} is outside {}'s range {}..{}",
                    t.value,
                    ind.id,
                    ind.min_value.map_or("".into(), |v| v.to_string()),
                    ind.max_value.map_or("".into(), |v| v.to_string())
                ),
            ));
        }
        check_name("source", &t.source).map_err(|why| ("source", why))?;
        if !t.note.is_empty() {
            check_name("note", &t.note).map_err(|why| ("note", why))?;
        }
        Ok(())
    }

    /// Parses region and indicator catalog files and checks them as a whole.
    pub(crate) fn from_csv(regions: &str, indicators: &str) -> Result<Catalog, CatalogError> {
        let mut cat = Catalog::default();
        for r in parse_regions(regions)? {
            if cat.regions.insert(r.code.clone(), r.clone()).is_some() {
                return Err(CatalogError::Invalid(format!("region {} twice", r.code)));
            }
        }
        if !cat.regions.contains_key(NATIONAL_CODE) {
            return Err(CatalogError::Invalid(format!(
                "the region catalog must contain the whole country, {NATIONAL_CODE}"
            )));
        }
        for i in parse_indicators(indicators)? {
            if cat.indicators.insert(i.id.clone(), i.clone()).is_some() {
                return Err(CatalogError::Invalid(format!("indicator {} twice", i.id)));
            }
        }
        for i in cat.indicators.values() {
            cat.check_references(i).map_err(CatalogError::Invalid)?;
        }
        Ok(cat)
    }

    /// Checks that one more indicator `id` fits within `limits::MAX_INDICATORS` (a real
    /// catalog has about a hundred).
    pub(crate) fn check_room_for(&self, id: &str) -> Result<(), String> {
        if !self.indicators.contains_key(id)
            && self.indicators.len() >= crate::limits::MAX_INDICATORS
        {
            return Err(format!(
                "the catalog holds {} indicators, the most it takes",
                crate::limits::MAX_INDICATORS
            ));
        }
        Ok(())
    }

    /// Checks that an indicator's components exist and are not themselves derived.
    pub(crate) fn check_references(&self, ind: &Indicator) -> Result<(), String> {
        for c in ind.aggregation.components() {
            match self.indicators.get(c) {
                None => {
                    return Err(format!(
                        "indicator {}: component {c} is not in the catalog",
                        ind.id
                    ))
                }
                Some(comp) if matches!(comp.aggregation, Aggregation::Ratio { .. }) => {
                    return Err(format!(
                        "indicator {}: component {c} is itself a ratio",
                        ind.id
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Resolves a region code or Statistics Finland's numeric alias ("01" → "MK01").
    pub fn resolve_region(&self, code: &str) -> Option<&Region> {
        self.regions
            .get(code)
            .or_else(|| self.regions.values().find(|r| r.statfin_code == code))
    }

    /// The regions compared in `year`: all but the whole country that were in force that
    /// year, in code order.
    pub(crate) fn compared_regions(&self, year: i32) -> impl Iterator<Item = &Region> {
        self.regions
            .values()
            .filter(move |r| r.code != NATIONAL_CODE && r.in_force(year))
    }

    /// The regions in force now (those that have not ended), in code order.
    pub(crate) fn current_regions(&self) -> impl Iterator<Item = &Region> {
        self.compared_regions(i32::MAX)
    }
}

/// The rows of a catalog file with their line numbers (the header is line 1).
pub(crate) fn rows<'a, T: serde::de::DeserializeOwned + 'a>(
    text: &'a str,
) -> impl Iterator<Item = Result<(usize, T), CatalogError>> + 'a {
    csv::Reader::from_reader(text.as_bytes())
        .into_deserialize::<T>()
        .enumerate()
        .map(|(i, row)| {
            let line = i + 2;
            row.map(|r| (line, r)).map_err(|e| CatalogError::Line {
                line,
                message: e.to_string(),
            })
        })
}

fn parse_regions(text: &str) -> Result<Vec<Region>, CatalogError> {
    #[derive(Deserialize)]
    struct Row {
        code: String,
        statfin_code: String,
        name_fi: String,
        name_sv: String,
        name_en: String,
        nuts3: String,
        /// Optional columns: the years the region was in force (empty: no bound).
        #[serde(default)]
        first_year: Option<i32>,
        #[serde(default)]
        last_year: Option<i32>,
    }
    let mut out = Vec::new();
    for row in rows::<Row>(text) {
        let (line, row) = row?;
        let code_ok = !row.code.is_empty()
            && row.code.len() <= 16
            && row.code.chars().all(|c| c.is_ascii_alphanumeric());
        if !code_ok || row.name_fi.trim().is_empty() {
            return Err(CatalogError::Line {
                line,
                message: format!(
                    "region code {:?} must be 1-16 ASCII letters or digits, with a name",
                    row.code
                ),
            });
        }
        let years = [row.first_year, row.last_year];
        let years_ok = years.iter().flatten().all(|y| (1000..=9999).contains(y))
            && row
                .first_year
                .zip(row.last_year)
                .is_none_or(|(f, l)| f <= l)
            && (row.code != NATIONAL_CODE || years == [None, None]);
        if !years_ok {
            return Err(CatalogError::Line {
                line,
                message: format!(
                    "region {}: first_year and last_year are years (1000..9999), the first not \
                     after the last, and the whole country has neither",
                    row.code
                ),
            });
        }
        out.push(Region {
            code: row.code,
            statfin_code: row.statfin_code,
            name_fi: row.name_fi,
            name_sv: row.name_sv,
            name_en: row.name_en,
            nuts3: row.nuts3,
            first_year: row.first_year,
            last_year: row.last_year,
        });
    }
    Ok(out)
}

/// The groups of a group file, with their line numbers.
fn parse_groups(text: &str) -> Result<Vec<(usize, RegionGroup)>, CatalogError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        name_fi: String,
        name_sv: String,
        name_en: String,
        /// Region codes separated by spaces.
        members: String,
        source: String,
    }
    let mut out = Vec::new();
    for row in rows::<Row>(text) {
        let (line, row) = row?;
        let group = RegionGroup {
            id: row.id,
            name_fi: row.name_fi,
            name_sv: row.name_sv,
            name_en: row.name_en,
            members: row.members.split_whitespace().map(str::to_owned).collect(),
            source: row.source,
        };
        out.push((line, group.normalized()));
    }
    Ok(out)
}

/// A group file's groups, each checked on its own (the server checks them against its
/// catalog): for `define-group`.
pub(crate) fn parse_group_file(text: &str) -> Result<Vec<RegionGroup>, CatalogError> {
    Ok(parse_groups(text)?.into_iter().map(|(_, g)| g).collect())
}

fn parse_opt_f64(s: &str, what: &str) -> Result<Option<f64>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse::<f64>()
        .map(Some)
        .map_err(|_| format!("{what} {s:?} is not a number"))
}

fn parse_indicators(text: &str) -> Result<Vec<Indicator>, CatalogError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        theme: String,
        name_fi: String,
        name_en: String,
        unit: String,
        decimals: u32,
        direction: String,
        min_value: String,
        max_value: String,
        aggregation: String,
        weight_indicator: String,
        numerator_indicator: String,
        denominator_indicator: String,
        scale: String,
        min_year: i32,
        /// Blank: no upper bound of the indicator's own.
        #[serde(default)]
        max_year: String,
        /// observed (default), target or forecast.
        #[serde(default)]
        kind: String,
    }
    let mut out = Vec::new();
    for row in rows::<Row>(text) {
        let (line, row) = row?;
        let err = |message: String| CatalogError::Line { line, message };
        let theme = Theme::parse(&row.theme)
            .ok_or_else(|| err(format!("unknown theme {:?}", row.theme)))?;
        let direction = Direction::parse(&row.direction)
            .ok_or_else(|| err(format!("unknown direction {:?}", row.direction)))?;
        let kind = IndicatorKind::parse(row.kind.trim()).ok_or_else(|| {
            err(format!(
                "unknown kind {:?} (observed, target or forecast)",
                row.kind
            ))
        })?;
        let max_year = match row.max_year.trim() {
            "" => None,
            y => Some(
                y.parse::<i32>()
                    .map_err(|_| err(format!("max_year {y:?} is not a year")))?,
            ),
        };
        let scale = parse_opt_f64(&row.scale, "scale")
            .map_err(err)?
            .unwrap_or(1.0);
        let aggregation = [
            Aggregation::Sum,
            Aggregation::NationalOnly,
            Aggregation::WeightedMean {
                weight: row.weight_indicator.clone(),
            },
            Aggregation::Ratio {
                numerator: row.numerator_indicator.clone(),
                denominator: row.denominator_indicator.clone(),
                scale,
            },
        ]
        .into_iter()
        .find(|a| a.name() == row.aggregation)
        .ok_or_else(|| err(format!("unknown aggregation {:?}", row.aggregation)))?;
        let ind = Indicator {
            id: row.id,
            name_fi: row.name_fi,
            name_en: row.name_en,
            theme,
            unit: row.unit,
            decimals: row.decimals,
            direction,
            min_value: parse_opt_f64(&row.min_value, "min_value").map_err(err)?,
            max_value: parse_opt_f64(&row.max_value, "max_value").map_err(err)?,
            aggregation,
            min_year: row.min_year,
            max_year,
            kind,
        };
        ind.check().map_err(err)?;
        out.push(ind);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_catalog_is_valid() {
        let cat = Catalog::from_csv(BUNDLED_REGIONS, BUNDLED_INDICATORS).unwrap();
        assert_eq!(cat.current_regions().count(), 19);
        // Itä-Uusimaa was a region until 2010: 20 regions are compared in 2010, 19 in 2011.
        assert_eq!(cat.compared_regions(2010).count(), 20);
        assert_eq!(cat.compared_regions(2011).count(), 19);
        assert!(cat.indicators.len() >= 30);
        for theme in Theme::ALL {
            let directional = cat
                .indicators
                .values()
                .filter(|i| i.theme == theme && i.direction != Direction::Neutral)
                .count();
            assert!(
                directional >= 3,
                "theme {theme:?} has {directional} directional indicators"
            );
        }
        let count = |rule: fn(&Aggregation) -> bool| {
            cat.indicators
                .values()
                .filter(|i| rule(&i.aggregation))
                .count()
        };
        assert!(count(|a| matches!(a, Aggregation::WeightedMean { .. })) >= 1);
        assert!(count(|a| matches!(a, Aggregation::Sum)) >= 3);
        assert!(count(|a| matches!(a, Aggregation::Ratio { .. })) >= 3);
        assert!(count(|a| matches!(a, Aggregation::NationalOnly)) >= 1);
    }

    /// The bundled groups are the NUTS-2 large areas: every compared region is in exactly
    /// one, and it is the one its NUTS-3 code names (the code's first four characters).
    #[test]
    fn the_bundled_groups_are_the_nuts2_areas_of_the_regions_nuts3_codes() {
        let cat = Catalog::bundled();
        assert_eq!(cat.groups.len(), 5);
        for r in cat.current_regions() {
            let groups: Vec<&str> = cat.groups_of(&r.code).map(|g| g.id.as_str()).collect();
            assert_eq!(groups, vec![&r.nuts3[..4]], "{}", r.code);
        }
        assert!(cat.groups.values().all(|g| g.source.contains("NUTS")));
    }

    /// A round expects only what a region can report for its year: no national-only
    /// indicator, none outside its years; the defaults leave those out.
    #[test]
    fn a_round_expects_only_what_regions_can_report_for_its_year() {
        let cat = Catalog::bundled();
        let round = |year, indicators: &[&str], regions: &[&str]| Round {
            year,
            deadline_micros: 1_800_000_000_000_000,
            indicators: indicators.iter().map(|i| (*i).to_owned()).collect(),
            regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        };
        let defaults = cat.resolve_round(round(2025, &[], &["19", "MK01", "MK01"]), 2026);
        assert_eq!(
            defaults.regions,
            ["MK01", "MK19"],
            "aliases resolved, once each, in order"
        );
        assert!(cat.check_round(&defaults, 2026).is_ok());
        assert!(defaults
            .indicators
            .iter()
            .all(|i| { cat.indicators[i].aggregation != Aggregation::NationalOnly }));
        assert_eq!(
            defaults.indicators.len(),
            cat.regional_indicators(2025, 2026).count()
        );
        // Before every bundled series begins (1980) nothing is reportable.
        assert!(cat
            .resolve_round(round(1975, &[], &[]), 2026)
            .indicators
            .is_empty());
        // Nor anything observed for a year that has not come: the round would be overdue
        // with nothing anyone could report.
        let future = cat.resolve_round(round(2030, &[], &["MK01"]), 2026);
        assert!(future
            .indicators
            .iter()
            .all(|i| cat.indicators[i].kind.allows_future_years()));
        for (r, field, says) in [
            (
                round(1975, &["population"], &["MK01"]),
                "indicator_ids",
                "no value for the round's year",
            ),
            (
                round(2030, &["population"], &["MK01"]),
                "indicator_ids",
                "after the current year 2026",
            ),
            (
                round(2030, &[], &["MK01"]),
                "indicator_ids",
                "at least one indicator",
            ),
            (
                round(2025, &["morbidity_index"], &["MK01"]),
                "indicator_ids",
                "whole country",
            ),
            (
                round(2025, &["population"], &["SSS"]),
                "region_codes",
                "not a region that reports",
            ),
            (
                round(2025, &["population"], &["MK02", "MK01"]),
                "region_codes",
                "in order",
            ),
            (
                Round {
                    deadline_micros: i64::MIN,
                    ..round(2025, &["population"], &["MK01"])
                },
                "deadline",
                "required",
            ),
        ] {
            let (f, d) = cat.check_round(&r, 2026).unwrap_err();
            assert!(f == field && d.contains(says), "{r:?}: {f}: {d}");
        }
    }

    #[test]
    fn a_group_names_known_regions_once_and_never_the_whole_country() {
        let cat = Catalog::bundled();
        let g = |members: &[&str]| RegionGroup {
            id: "east".into(),
            name_fi: "Itä".into(),
            name_sv: "Öst".into(),
            name_en: "East".into(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            source: "test".into(),
        };
        assert!(cat.check_group(&g(&["MK10", "MK11"])).is_ok());
        for (members, says) in [
            (&["MK10", "MK99"][..], "not a region"),
            (&["MK10", "SSS"][..], "whole country"),
            (&[][..], "at least one"),
            (&["MK11", "MK10"][..], "distinct"),
        ] {
            let err = cat.check_group(&g(members)).unwrap_err();
            assert!(err.contains(says), "{members:?}: {err}");
        }
        let err = cat
            .check_group(&RegionGroup {
                id: "MK01".into(),
                ..g(&["MK01"])
            })
            .unwrap_err();
        assert!(err.contains("is a region code"), "{err}");
        let err = cat
            .check_group(&RegionGroup {
                source: " ".into(),
                ..g(&["MK01"])
            })
            .unwrap_err();
        assert!(err.contains("source"), "{err}");
    }

    /// The years a region was in force are years, in order, and the whole country has
    /// none: anything else is refused with its line.
    #[test]
    fn region_years_are_checked() {
        let file = |rows: &str| {
            format!(
                "code,statfin_code,name_fi,name_sv,name_en,nuts3,first_year,last_year\n\
                 SSS,SSS,Koko maa,Hela landet,Whole country,FI,,\n{rows}"
            )
        };
        let regions = |rows: &str| parse_regions(&file(rows));
        let ok =
            regions("MK03,03,Itä-Uusimaa,Östra Nyland,East Uusimaa,FI182,1994,2010\n").unwrap();
        assert_eq!(
            (ok[1].first_year, ok[1].last_year),
            (Some(1994), Some(2010))
        );
        for bad in [
            "MK03,03,Itä-Uusimaa,Östra Nyland,East Uusimaa,FI182,2011,2010\n",
            "MK03,03,Itä-Uusimaa,Östra Nyland,East Uusimaa,FI182,,99999\n",
            "MK03,03,Itä-Uusimaa,Östra Nyland,East Uusimaa,FI182,,twenty\n",
        ] {
            assert!(regions(bad).is_err(), "{bad}");
        }
        let whole = "code,statfin_code,name_fi,name_sv,name_en,nuts3,first_year,last_year\n\
                     SSS,SSS,Koko maa,Hela landet,Whole country,FI,,2010\n";
        let err = parse_regions(whole).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        // A file of the six columns before years reads as regions without them.
        let old = parse_regions("code,statfin_code,name_fi,name_sv,name_en,nuts3\nMK01,01,Uusimaa,Nyland,Uusimaa,FI1B1\n").unwrap();
        assert_eq!((old[0].first_year, old[0].last_year), (None, None));
    }

    #[test]
    fn statfin_codes_alias_region_codes() {
        let cat = Catalog::bundled();
        assert_eq!(cat.resolve_region("01").unwrap().code, "MK01");
        assert_eq!(cat.resolve_region("MK21").unwrap().name_sv, "Åland");
        assert_eq!(cat.resolve_region("SSS").unwrap().code, "SSS");
        // Itä-Uusimaa merged into Uusimaa on 1.1.2011: it stays, with its years.
        let ita = cat.resolve_region("03").unwrap();
        assert_eq!((ita.code.as_str(), ita.last_year), ("MK03", Some(2010)));
        assert!(ita.in_force(2010) && !ita.in_force(2011));
        assert_eq!(ita.years().as_deref(), Some("until 2010"));
        assert!(cat.resolve_region("MK20").is_none());
    }

    #[test]
    fn ratio_components_must_exist() {
        let regions = "code,statfin_code,name_fi,name_sv,name_en,nuts3\nSSS,SSS,Koko maa,Hela landet,Whole country,FI\n";
        let header = "id,theme,name_fi,name_en,unit,decimals,direction,min_value,max_value,aggregation,weight_indicator,numerator_indicator,denominator_indicator,scale,min_year,max_year\n";
        let bad = format!(
            "{header}rate,competence,A,A,%,1,lower_is_better,0,100,ratio,,num,den,100,1990,2100\n"
        );
        let err = Catalog::from_csv(regions, &bad).unwrap_err();
        assert!(
            err.to_string()
                .contains("component num is not in the catalog"),
            "{err}"
        );
        let bad_theme = format!("{header}x,weather,A,A,%,1,neutral,,,sum,,,,,1990,2100\n");
        assert!(Catalog::from_csv(regions, &bad_theme)
            .unwrap_err()
            .to_string()
            .contains("line 2"));
    }
}
