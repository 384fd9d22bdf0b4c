//! Names of codes in the language asked for (`lang`), with one rule of falling back where
//! the catalog has no name in it: the Finnish name, then the English one, then the code.

use std::sync::Arc;

use crate::domain::areas::Area;
use crate::domain::{Catalog, NATIONAL_CODE};
use crate::projection::Level;
use crate::read::Answer;

/// The language of labels and names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lang {
    Fi,
    Sv,
    En,
}

impl Lang {
    pub(super) fn parse(s: &str) -> Option<Lang> {
        match s {
            "fi" => Some(Lang::Fi),
            "sv" => Some(Lang::Sv),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// Of names in Finnish, Swedish and English (empty: none in that language), the one in
    /// this language, else the Finnish one (the language every catalog name is given in),
    /// else the English one; `None` when all are empty.
    pub(super) fn pick<'a>(self, fi: &'a str, sv: &'a str, en: &'a str) -> Option<&'a str> {
        let own = match self {
            Lang::Fi => fi,
            Lang::Sv => sv,
            Lang::En => en,
        };
        [own, fi, en, sv].into_iter().find(|n| !n.trim().is_empty())
    }
}

/// Labels from the latest catalog (codes name the same thing at every as-of point).
pub(super) struct Labels {
    catalog: Arc<Catalog>,
    pub(super) lang: Lang,
    /// The record time of the answer's sequence.
    pub(super) updated: String,
}

impl Labels {
    pub(super) fn new<T>(a: &Answer<T>, lang: Lang) -> Labels {
        Labels {
            catalog: a.catalog.clone(),
            lang,
            updated: chrono::DateTime::from_timestamp_micros(a.recorded_at_micros)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }
    }

    /// An area's name: a region (or the whole country), a municipality, or a sub-region or
    /// wellbeing services county (named in Finnish only, as in Statistics Finland's key).
    pub(super) fn area(&self, code: &str) -> String {
        let name = match self.catalog.resolve_area(code) {
            Some(Area::Region(r)) => self.lang.pick(&r.name_fi, &r.name_sv, &r.name_en),
            Some(Area::Municipality(m)) => self.lang.pick(&m.name_fi, &m.name_sv, &m.name_en),
            Some(Area::Group { name, .. }) => Some(name),
            None => None,
        };
        name.unwrap_or(code).to_owned()
    }

    /// What kind of area a code is: `national`, `region`, `municipality`, `sub_region` or
    /// `county` (a peer group is `group`, said where one is shown).
    pub(super) fn area_kind(code: &str) -> &'static str {
        if code == NATIONAL_CODE {
            return "national";
        }
        Level::of(code).as_str()
    }

    /// An indicator's name (the catalog names indicators in Finnish and English: Swedish
    /// labels fall back to the Finnish name, as every name does).
    pub(super) fn indicator(&self, id: &str) -> String {
        match self.catalog.indicators.get(id) {
            Some(i) => self.lang.pick(&i.name_fi, "", &i.name_en),
            None => None,
        }
        .unwrap_or(id)
        .to_owned()
    }

    /// An indicator's unit and decimals ("" and 0 for an id the catalog does not have).
    pub(super) fn unit(&self, id: &str) -> (String, u32) {
        self.catalog
            .indicators
            .get(id)
            .map_or((String::new(), 0), |i| (i.unit.clone(), i.decimals))
    }

    /// A peer group's name.
    pub(super) fn group(&self, id: &str) -> String {
        match self.catalog.groups.get(id) {
            Some(g) => self.lang.pick(&g.name_fi, &g.name_sv, &g.name_en),
            None => None,
        }
        .unwrap_or(id)
        .to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_falls_back_to_finnish_then_english_then_the_code() {
        assert_eq!(
            Lang::Sv.pick("Uusimaa", "Nyland", "Uusimaa"),
            Some("Nyland")
        );
        assert_eq!(Lang::Sv.pick("Väestö", "", "Population"), Some("Väestö"));
        assert_eq!(Lang::En.pick("Väestö", "", " "), Some("Väestö"));
        assert_eq!(Lang::Fi.pick("", "", "Population"), Some("Population"));
        assert_eq!(Lang::Fi.pick("", "Befolkning", ""), Some("Befolkning"));
        assert_eq!(Lang::En.pick("", "", ""), None);
        let catalog = Arc::new(Catalog::bundled());
        let labels = |lang| Labels {
            catalog: catalog.clone(),
            lang,
            updated: String::new(),
        };
        let (fi, sv, en) = (labels(Lang::Fi), labels(Lang::Sv), labels(Lang::En));
        let uusimaa = &catalog.regions["MK01"];
        assert_eq!(sv.area("MK01"), uusimaa.name_sv);
        assert_eq!(en.area("MK02"), catalog.regions["MK02"].name_en);
        // By Statistics Finland's number too.
        assert_eq!(fi.area("01"), uusimaa.name_fi);
        let helsinki = &catalog.municipalities["KU091"];
        assert_eq!(sv.area("KU091"), helsinki.name_sv);
        assert_eq!(fi.area("NO_SUCH"), "NO_SUCH");
        let (id, ind) = catalog.indicators.iter().next().unwrap();
        assert_eq!(sv.indicator(id), ind.name_fi);
        assert_eq!(en.indicator(id), ind.name_en);
        let (gid, g) = catalog.groups.iter().next().unwrap();
        assert_eq!(sv.group(gid), g.name_sv);
        assert_eq!(Labels::area_kind("SSS"), "national");
        assert_eq!(Labels::area_kind("MK01"), "region");
        assert_eq!(Labels::area_kind("KU091"), "municipality");
        assert_eq!(Labels::area_kind("SK011"), "sub_region");
        assert_eq!(Labels::area_kind("HV01"), "county");
    }
}
