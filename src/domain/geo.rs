//! Maps: the areas of a division drawn from the bundled municipal boundaries.
//!
//! The National Land Survey's municipal boundaries (1:4 500 000, CC BY 4.0) of 2013, 2021
//! and 2023 are bundled (`data/geo/README.md`). A division is drawn from the latest of them
//! not after it; every other area is made of municipalities:
//!
//! - a municipality of the division is the boundaries' municipalities that lie in it (itself,
//!   or those that merged into it since: [`Catalog::successor`]);
//! - a region (sub-region, county) is the municipalities that lie wholly in it
//!   ([`Catalog::placed_on`]); its outline is the municipalities' edges that no two of its
//!   municipalities share (the boundaries are topologically clean: a border between two
//!   municipalities is the same points in both);
//! - a division before the key begins (2013) says which regions there were, not where
//!   each municipality lay: its regions are drawn from the 2013 municipalities, each in its
//!   2013 region, but for the regions that ended before 2013, whose municipalities
//!   `data/geo/regions_before_2013.csv` lists (with the totals that check it). Such a map
//!   is marked approximate: land that moved between two regions before 2013 is drawn where
//!   it lay in 2013.
//!
//! Coordinates are projected once (a sinusoidal projection about 25.5° E, equal-area, close
//! to the national TM35FIN over Finland's width) into a [`WIDTH`] × [`HEIGHT`] box and
//! written as SVG path data in whole units (about 1.2 km).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use super::areas::Grouping;
use super::catalog::Catalog;

/// The bundled boundaries, by the year of the key they follow.
const BOUNDARIES: [(i32, &str); 3] = [
    (
        2013,
        include_str!("../../data/geo/nls_kuntarajat.2013.geojson"),
    ),
    (
        2021,
        include_str!("../../data/geo/nls_kuntarajat.2021.geojson"),
    ),
    (
        2023,
        include_str!("../../data/geo/nls_kuntarajat.2023.geojson"),
    ),
];
/// The regions that ended before the key begins, and their municipalities (2013 codes).
const BEFORE_KEY: &str = include_str!("../../data/geo/regions_before_2013.csv");
/// The first year the bundled boundaries and the key say where each municipality lies.
const FIRST_KEYED: i32 = 2013;

/// The drawing's box: Finland is about twice as tall as it is wide.
pub(crate) const WIDTH: u32 = 580;
pub(crate) const HEIGHT: u32 = 1000;
/// The projection: central meridian, and the box's edges in projected degrees (x: degrees
/// of longitude times the cosine of the latitude; y: latitude), with a margin around
/// 19.08–31.59° E and 59.45–70.10° N.
const MERIDIAN: f64 = 25.5;
const X_MIN: f64 = -3.35;
const Y_MAX: f64 = 70.2;
/// Units per projected degree: the latitudes 59.4–70.2 fill the height.
const SCALE: f64 = HEIGHT as f64 / 10.8;

/// The attribution the boundaries' licence asks for.
pub(crate) const ATTRIBUTION: &str = "Municipal boundaries: National Land Survey of Finland, \
     administrative borders 1:4 500 000 (2013, 2021, 2023), CC BY 4.0";

/// A projected point, kept exact so that shared borders match.
type P = (f64, f64);
/// A point as a key: its bits.
type K = (u64, u64);

fn key(p: P) -> K {
    (p.0.to_bits(), p.1.to_bits())
}

/// One municipality's shape: its rings (outer boundaries and holes), projected.
struct Shape {
    code: String,
    rings: Vec<Vec<P>>,
}

/// The boundaries of one key year.
struct Boundaries {
    year: i32,
    shapes: Vec<Shape>,
}

/// The bundled boundaries, parsed and projected on first use.
fn boundaries() -> &'static [Boundaries] {
    static PARSED: OnceLock<Vec<Boundaries>> = OnceLock::new();
    PARSED.get_or_init(|| {
        BOUNDARIES
            .iter()
            .map(|(year, text)| Boundaries {
                year: *year,
                // The bundled files are checked by the tests (`bundled_boundaries_draw`).
                shapes: parse(text).expect("the bundled boundaries are GeoJSON"),
            })
            .collect()
    })
}

/// The municipalities of a GeoJSON FeatureCollection: property `NATCODE` (or `natcode`,
/// a number in the 2013 file) is the code's digits.
fn parse(text: &str) -> Result<Vec<Shape>, String> {
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let features = doc["features"].as_array().ok_or("no features")?;
    features
        .iter()
        .map(|f| {
            let props = &f["properties"];
            let natcode = props.get("NATCODE").or_else(|| props.get("natcode"));
            let digits = match natcode {
                Some(serde_json::Value::String(s)) => s.parse::<u32>().ok(),
                Some(serde_json::Value::Number(n)) => {
                    n.as_u64().and_then(|n| u32::try_from(n).ok())
                }
                _ => None,
            }
            .ok_or("a feature without a NATCODE")?;
            let geometry = &f["geometry"];
            let polygons: Vec<&serde_json::Value> = match geometry["type"].as_str() {
                Some("Polygon") => vec![&geometry["coordinates"]],
                Some("MultiPolygon") => (geometry["coordinates"].as_array())
                    .ok_or("a MultiPolygon without coordinates")?
                    .iter()
                    .collect(),
                other => return Err(format!("a geometry of type {other:?}")),
            };
            let mut rings = Vec::new();
            for polygon in polygons {
                for ring in polygon.as_array().ok_or("a polygon without rings")? {
                    let points = ring.as_array().ok_or("a ring without points")?;
                    let ring: Option<Vec<P>> = points
                        .iter()
                        .map(|p| Some(project(p[0].as_f64()?, p[1].as_f64()?)))
                        .collect();
                    rings.push(ring.ok_or("a point that is not two numbers")?);
                }
            }
            Ok(Shape {
                code: format!("KU{digits:03}"),
                rings,
            })
        })
        .collect()
}

/// Longitude and latitude (WGS84 degrees) into the box.
fn project(lon: f64, lat: f64) -> P {
    let x = (lon - MERIDIAN) * lat.to_radians().cos();
    ((x - X_MIN) * SCALE, (Y_MAX - lat) * SCALE)
}

/// One area as drawn: what to fill and the outline to stroke.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Drawn {
    pub(crate) code: String,
    /// SVG path data of its municipalities' rings.
    pub(crate) fill: String,
    /// SVG path data of its outline (the edges it shares with no municipality of its own).
    pub(crate) outline: String,
}

/// A division drawn at one level.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Map {
    pub(crate) borders: i32,
    /// The year of the municipal boundaries it is drawn from.
    pub(crate) boundaries: i32,
    /// Drawn from later municipalities than the division's (before the key begins).
    pub(crate) approximate: bool,
    pub(crate) areas: Vec<Drawn>,
}

/// The areas of `grouping` (`None`: municipalities) of division `d`, drawn once per catalog.
pub(crate) fn draw(
    catalog: &Catalog,
    grouping: Option<Grouping>,
    d: i32,
) -> Result<Arc<Map>, String> {
    catalog.known_division(d)?;
    catalog
        .cache
        .map((grouping, d), || draw_now(catalog, grouping, d))
}

fn draw_now(catalog: &Catalog, grouping: Option<Grouping>, d: i32) -> Result<Map, String> {
    let all = boundaries();
    let b = all.iter().rev().find(|b| b.year <= d).unwrap_or(&all[0]);
    let keyed = d >= FIRST_KEYED && catalog.has_membership(d);
    if !catalog.has_membership(b.year) {
        return Err(format!(
            "the catalog does not say where the municipalities of {} lay, which the map is \
             drawn from",
            b.year
        ));
    }
    // The area each municipality of the boundaries lies in on `d`.
    let area_of: HashMap<&str, Option<String>> = match (grouping, keyed) {
        (None, true) => (b.shapes.iter())
            .map(|s| {
                let m = catalog.successor(&s.code, d);
                (s.code.as_str(), m.map(|m| m.code.clone()))
            })
            .collect(),
        (Some(g), true) => {
            let placed = catalog.placed_on(b.year, d, g);
            (b.shapes.iter())
                .map(|s| (s.code.as_str(), placed.get(&s.code).cloned().flatten()))
                .collect()
        }
        (None, false) | (Some(Grouping::SubRegion | Grouping::County), false) => {
            return Err(format!(
                "the borders of {d} say which regions there were, not where each municipality \
                 lay (the catalog places no municipality on them; the bundled key begins in \
                 {FIRST_KEYED}): only its regions can be drawn"
            ))
        }
        (Some(Grouping::Region), false) => {
            let regions: Vec<&str> = catalog
                .compared_regions(d)
                .map(|r| r.code.as_str())
                .collect();
            let before = before_key(d);
            (b.shapes.iter())
                .map(|s| {
                    let region = before.get(s.code.as_str()).copied().or_else(|| {
                        let m = catalog.municipalities.get(&s.code)?;
                        m.region(b.year)
                    });
                    let region = region.filter(|r| regions.contains(r));
                    (s.code.as_str(), region.map(str::to_owned))
                })
                .collect()
        }
    };
    let mut members: BTreeMap<&str, Vec<&Shape>> = BTreeMap::new();
    for s in &b.shapes {
        if let Some(Some(area)) = area_of.get(s.code.as_str()) {
            members.entry(area).or_default().push(s);
        }
    }
    let areas = members
        .into_iter()
        .map(|(code, shapes)| {
            let rings: Vec<&[P]> = shapes
                .iter()
                .flat_map(|s| s.rings.iter().map(Vec::as_slice))
                .collect();
            Drawn {
                code: code.to_owned(),
                fill: path(rings.iter().copied(), true),
                outline: path(outline(&rings).iter().map(Vec::as_slice), false),
            }
        })
        .collect();
    Ok(Map {
        borders: d,
        boundaries: b.year,
        approximate: !keyed,
        areas,
    })
}

/// A region that ended before the key begins: one of its municipalities (a 2013 code).
#[derive(serde::Deserialize)]
struct Before {
    region: String,
    /// The last year it was in force.
    last_year: i32,
    municipality: String,
}

/// The bundled [`BEFORE_KEY`], read on first use.
fn before() -> &'static [Before] {
    static PARSED: OnceLock<Vec<Before>> = OnceLock::new();
    PARSED.get_or_init(|| {
        csv::Reader::from_reader(BEFORE_KEY.as_bytes())
            .deserialize()
            .collect::<Result<_, _>>()
            // Checked by the tests (`bundled_boundaries_draw`).
            .expect("data/geo/regions_before_2013.csv reads")
    })
}

/// The municipalities (2013 codes) of the regions that ended before 2013 in force in `d`,
/// and their region.
fn before_key(d: i32) -> HashMap<&'static str, &'static str> {
    before()
        .iter()
        .filter(|b| d <= b.last_year)
        .map(|b| (b.municipality.as_str(), b.region.as_str()))
        .collect()
}

/// The edges of `rings` that only one of them has, chained into lines.
fn outline(rings: &[&[P]]) -> Vec<Vec<P>> {
    let undirected = |a: P, b: P| {
        let (ka, kb) = (key(a), key(b));
        if ka <= kb {
            (ka, kb)
        } else {
            (kb, ka)
        }
    };
    let mut count: HashMap<(K, K), u32> = HashMap::new();
    for ring in rings {
        for w in ring.windows(2) {
            *count.entry(undirected(w[0], w[1])).or_default() += 1;
        }
    }
    // The edges kept, by where they start, in the direction their ring runs.
    let mut next: HashMap<K, Vec<P>> = HashMap::new();
    let mut starts = Vec::new();
    for ring in rings {
        for w in ring.windows(2) {
            if count[&undirected(w[0], w[1])] == 1 {
                next.entry(key(w[0])).or_default().push(w[1]);
                starts.push(w[0]);
            }
        }
    }
    let mut lines = Vec::new();
    for start in starts {
        let mut at = start;
        let mut line = vec![at];
        while let Some(to) = next.get_mut(&key(at)).and_then(Vec::pop) {
            line.push(to);
            at = to;
        }
        if line.len() > 1 {
            lines.push(line);
        }
    }
    lines
}

/// SVG path data of `lines` in whole units: `M x y` then relative steps, `Z` when
/// `closed`; a point that rounds onto the one before is left out.
fn path<'a>(lines: impl Iterator<Item = &'a [P]>, closed: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    for line in lines {
        let mut points: Vec<(i64, i64)> = line
            .iter()
            .map(|(x, y)| (x.round() as i64, y.round() as i64))
            .collect();
        points.dedup();
        if points.len() < 2 {
            continue;
        }
        let (x0, y0) = points[0];
        let _ = write!(out, "M{x0} {y0}l");
        for w in points.windows(2) {
            let (dx, dy) = (w[1].0 - w[0].0, w[1].1 - w[0].1);
            let _ = write!(out, "{dx} {dy} ");
        }
        out.pop();
        if closed {
            out.push('Z');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edges_two_squares_share_are_not_their_outline() {
        let a: Vec<P> = vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0), (0.0, 0.0)];
        let b: Vec<P> = vec![(1.0, 0.0), (2.0, 0.0), (2.0, 1.0), (1.0, 1.0), (1.0, 0.0)];
        let lines = outline(&[&a, &b]);
        let edges: usize = lines.iter().map(|l| l.len() - 1).sum();
        // 8 edges in all, the one between them twice: 6 remain.
        assert_eq!(edges, 6);
        assert!(!lines
            .iter()
            .any(|l| l.windows(2).any(|w| w[0].0 == 1.0 && w[1].0 == 1.0)));
        assert_eq!(
            path([a.as_slice()].into_iter(), true),
            "M0 0l1 0 0 1 -1 0 0 -1Z"
        );
    }

    #[test]
    fn bundled_boundaries_draw() {
        let catalog = Catalog::bundled();
        for b in boundaries() {
            let mut drawn: Vec<&str> = b.shapes.iter().map(|s| s.code.as_str()).collect();
            drawn.sort();
            let keyed: Vec<&str> = catalog
                .municipalities_on(b.year)
                .map(|m| m.code.as_str())
                .collect();
            assert_eq!(drawn, keyed, "the {} boundaries are the key's", b.year);
        }
        let regions = |d| draw(&catalog, Some(Grouping::Region), d).unwrap();
        let today = regions(2023);
        assert_eq!(today.areas.len(), 19);
        assert!(!today.approximate);
        let before = regions(2006);
        assert_eq!(before.areas.len(), 20);
        assert!(before.approximate);
        let itä_uusimaa = before.areas.iter().find(|a| a.code == "MK03").unwrap();
        // Seven municipalities, each one closed ring at least.
        assert!(itä_uusimaa.fill.matches('Z').count() >= 7);
        assert_eq!(regions(2011).areas.len(), 19);
        let municipalities = draw(&catalog, None, 2017).unwrap();
        assert_eq!(municipalities.areas.len(), 311);
        assert_eq!(municipalities.boundaries, 2013);
        assert!(draw(&catalog, None, 2006).is_err());
        assert!(draw(&catalog, Some(Grouping::Region), 1999).is_err());
        assert_eq!(draw(&catalog, None, 2025).unwrap().areas.len(), 308);
    }
}
