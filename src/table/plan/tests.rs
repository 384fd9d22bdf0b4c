use super::*;
use crate::domain::Catalog;
use crate::table::read;

const TABLE: &str = r#"{"version":"2.0","class":"dataset","label":"Testi","source":"Tilastokeskus",
"updated":"2021-07-27T08:00:00Z","id":["Alue","Sukupuoli","Vuosi","Tiedot"],"size":[4,3,3,1],
"dimension":{"Alue":{"label":"Alue","category":{"index":["SSS","MK01","KU091","EL01"],
 "label":{"SSS":"KOKO MAA","MK01":"MK01 Uusimaa","KU091":"Helsinki","EL01":"Uudenmaan ELY"}}},
"Sukupuoli":{"label":"Sukupuoli","category":{"index":["SSS","1","2"]}},
"Vuosi":{"label":"Vuosi","category":{"index":["2019","2020","2021*"],"note":{"2020":["Ennakkotieto"]}}},
"Tiedot":{"label":"Tiedot","category":{"index":["vaesto"],"label":{"vaesto":"Väestö 31.12."}}}},
"value":{"0":5525292,"1":5533793,"2":0,"9":1689725,"10":1702678,"11":1714741,
 "18":653835,"19":656920,"20":658457,"27":1},
"status":{"2":"..","19":"p","20":"-"},
"role":{"time":["Vuosi"],"geo":["Alue"],"metric":["Tiedot"]},"extension":{"px":{"tableid":"test_plan"}}}"#;

const MAPPING: &str = r#"
[table]
id = "test_plan"
publisher = "Statistics Finland"
borders = 2021

[area]
dimension = "Alue"

[time]
dimension = "Vuosi"

[select]
Sukupuoli = "SSS"

[[indicator]]
content = "vaesto"
indicator = "population"
"#;

fn planned(table: &str, mapping: &str) -> Result<Plan, String> {
    let t = read(table.as_bytes()).map_err(|e| e.to_string())?;
    plan(&t, &Mapping::parse(mapping)?, &Catalog::bundled(), 2026)
}

fn figure<'a>(p: &'a Plan, area: &str, year: i32) -> Option<&'a ObservationInput> {
    p.submissions
        .iter()
        .filter(|(_, a, _)| a == area)
        .flat_map(|(_, _, o)| o)
        .find(|o| o.year == year)
}

#[test]
fn a_table_becomes_one_submission_per_area_citing_its_release() {
    // The "2" and "1" sexes of the Helsinki rows are not taken: [select] takes SSS.
    let p = planned(TABLE, MAPPING).unwrap();
    let areas: Vec<&str> = p.submissions.iter().map(|(_, a, _)| a.as_str()).collect();
    assert_eq!(areas, ["KU091", "MK01", "SSS"]);
    let o = figure(&p, "MK01", 2019).unwrap();
    assert_eq!(o.value, 1_689_725.0);
    assert_eq!(o.borders, Some(2021));
    assert_eq!(o.status, Some(Status::Final));
    assert_eq!(
        o.published_micros,
        crate::table::parse_updated("2021-07-27T08:00:00Z")
    );
    assert!(o.source.starts_with("Statistics Finland, table test_plan 'Testi', updated 2021-07-27T08:00:00Z, JSON-stat sha256:"));
    assert!(o
        .correction_reason
        .starts_with("release of table test_plan updated 2021-07-27T08:00:00Z (sha256:"));
    let (id, _, _) = &p.submissions[1];
    let t = read(TABLE.as_bytes()).unwrap();
    assert_eq!(*id, format!("table/test_plan/{}/MK01", &t.digest[..16]));
    // The same release plans the same submissions (ids and all).
    let again = planned(TABLE, MAPPING).unwrap();
    assert_eq!(again.submissions, p.submissions);
}

#[test]
fn symbols_never_become_figures_and_preliminary_figures_are_provisional() {
    let p = planned(TABLE, MAPPING).unwrap();
    // SSS 2021 has ".." (and the value 0 under it in "value": a symbol wins).
    assert!(figure(&p, "SSS", 2021).is_none());
    // Helsinki 2021 is "-" (nil): a symbol, not 0.
    assert!(figure(&p, "KU091", 2021).is_none());
    assert!(p
        .submissions
        .iter()
        .flat_map(|(_, _, o)| o)
        .all(|o| o.value != 0.0));
    let reasons: Vec<&str> = p.skipped.iter().map(|s| s.reason.as_str()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("symbol: \"..\" (not available")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.starts_with("symbol: \"-\" (nil")),
        "{reasons:?}"
    );
    // Status "p", a note "Ennakkotieto" (2020) and a starred year (2021*) are provisional.
    assert_eq!(
        figure(&p, "KU091", 2020).unwrap().status,
        Some(Status::Provisional)
    );
    assert_eq!(
        figure(&p, "SSS", 2020).unwrap().status,
        Some(Status::Provisional)
    );
    assert_eq!(
        figure(&p, "MK01", 2021).unwrap().status,
        Some(Status::Provisional)
    );
    assert_eq!(
        figure(&p, "MK01", 2019).unwrap().status,
        Some(Status::Final)
    );
    // An ELY area is no area of the catalog.
    assert!(p
        .skipped
        .iter()
        .any(|s| s.area == "Uudenmaan ELY" && s.reason.starts_with("unknown area")));
}

#[test]
fn areas_are_read_by_code_label_or_name() {
    let by_label = MAPPING.replace(
        "dimension = \"Alue\"",
        "dimension = \"Alue\"\nnames = \"label\"\nwhole_country = [\"KOKO MAA\"]",
    );
    let p = planned(TABLE, &by_label).unwrap();
    assert!(figure(&p, "MK01", 2019).is_some());
    assert!(
        figure(&p, "SSS", 2019).is_some(),
        "KOKO MAA is the whole country"
    );
    // "Helsinki" is a label without a code: refused by the label rule, found by its name.
    assert!(figure(&p, "KU091", 2019).is_none());
    let by_name = MAPPING.replace(
        "dimension = \"Alue\"",
        "dimension = \"Alue\"\nnames = \"name\"\nwhole_country = [\"KOKO MAA\"]",
    );
    let p = planned(TABLE, &by_name).unwrap();
    assert_eq!(figure(&p, "KU091", 2019).unwrap().value, 653_835.0);
}

#[test]
fn a_mapping_that_does_not_fit_the_table_is_refused_saying_why() {
    let cases: &[(&str, &str, &str)] = &[
        ("dimension = \"Alue\"", "dimension = \"Alueet\"", "names dimension \"Alueet\", which table test_plan does not have (it has: Alue, Sukupuoli, Vuosi, Tiedot)"),
        ("[select]\nSukupuoli = \"SSS\"", "", "dimension \"Sukupuoli\" has 3 categories (\"SSS\", \"1\", \"2\"): say which"),
        ("Sukupuoli = \"SSS\"", "Sukupuoli = \"3\"", "is not a category of it"),
        ("Sukupuoli = \"SSS\"", "Sukupuoli = \"SSS\"\n\"Ikä\" = \"SSS\"", "[select] names dimension \"Ikä\""),
        ("indicator = \"population\"", "indicator = \"populace\"", "\"populace\" is not an indicator of the catalog"),
        ("content = \"vaesto\"", "content = \"vaki\"", "\"vaki\" is not a category of dimension \"Tiedot\""),
        ("id = \"test_plan\"", "id = \"statfin_vaerak_pxt_11rc\"", "the file is table \"test_plan\""),
        ("dimension = \"Vuosi\"", "dimension = \"Alue\"", "same dimension"),
    ];
    for (from, to, words) in cases {
        assert!(MAPPING.contains(from), "{from}");
        let err = planned(TABLE, &MAPPING.replacen(from, to, 1)).unwrap_err();
        assert!(err.contains(words), "{from:?} → {err}");
    }
    // Mapping syntax: TOML's own place, unknown keys, a monthly rule on a yearly table.
    assert!(Mapping::parse("[table\n").unwrap_err().contains("line 1"));
    assert!(
        Mapping::parse(&MAPPING.replace("[time]", "[time]\nunits = \"year\""))
            .unwrap_err()
            .contains("unknown field")
    );
    let ruled = MAPPING.replace(
        "indicator = \"population\"",
        "indicator = \"population\"\nrule = \"end\"",
    );
    assert!(Mapping::parse(&ruled)
        .unwrap_err()
        .contains("rule is for monthly tables"));
}

#[test]
fn values_outside_the_indicator_are_skipped_with_the_reason() {
    let big = TABLE.replace("\"18\":653835", "\"18\":-5");
    let p = planned(&big, MAPPING).unwrap();
    assert!(figure(&p, "KU091", 2019).is_none());
    let s = p
        .skipped
        .iter()
        .find(|s| s.area == "Helsinki" && s.time == "2019")
        .unwrap();
    assert!(
        s.reason
            .starts_with("outside the indicator's range: -5 is not within 0..100000000"),
        "{}",
        s.reason
    );
    let early = TABLE.replace("\"2019\",\"2020\"", "\"1919\",\"2020\"");
    let p = planned(&early, MAPPING).unwrap();
    assert!(p
        .skipped
        .iter()
        .any(|s| s.reason.contains("year 1919 is before 1990")));
}

#[test]
fn monthly_figures_follow_their_rule() {
    const JOBS: &[u8] =
        include_bytes!("../../../data/official/tables/statfin_tyonv_pxt_12r5_2006_2023.json");
    let t = read(JOBS).unwrap();
    let mapping = Mapping::parse(include_str!(
        "../../../data/official/mappings/statfin_tyonv_pxt_12r5.toml"
    ))
    .unwrap();
    let p = plan(&t, &mapping, &Catalog::bundled(), 2026).unwrap();
    let month = |m: &str| {
        let d = |n: &str| t.dimension(n).unwrap();
        let mut at = vec![0; 3];
        at[d("Alue")] = t.dimensions[d("Alue")].category("SSS").unwrap();
        at[d("Kuukausi")] = t.dimensions[d("Kuukausi")].category(m).unwrap();
        at[d("Tiedot")] = t.dimensions[d("Tiedot")]
            .category("TYOTTOMATLOPUSSA")
            .unwrap();
        match t.datum(t.index(&at)) {
            crate::table::Datum::Value(v, _) => v,
            other => panic!("{other:?}"),
        }
    };
    let sss = |ind: &str| {
        p.submissions
            .iter()
            .filter(|(_, a, _)| a == "SSS")
            .flat_map(|(_, _, o)| o)
            .find(|o| o.indicator_id == ind && o.year == 2020)
            .unwrap()
            .value
    };
    assert_eq!(sss("unemployed_jobseekers_year_end"), month("2020M12"));
    let mean = (1..=12)
        .map(|m| month(&format!("2020M{m:02}")))
        .sum::<f64>()
        / 12.0;
    assert!((sss("unemployed_jobseekers") - mean).abs() < 1e-6);
    // 2023 ends in October: no year-end value, no mean.
    let reasons: Vec<&Skip> = p
        .skipped
        .iter()
        .filter(|s| s.area == "SSS" && s.time == "2023")
        .collect();
    assert!(reasons
        .iter()
        .any(|s| s.reason.starts_with("no end of the year")));
    assert!(reasons
        .iter()
        .any(|s| s.reason.starts_with("incomplete year: 10 of 12 months")));
    // Sub-regions are derived, ELY areas unknown: skipped, with their reason.
    assert!(p
        .skipped
        .iter()
        .any(|s| s.area.starts_with("SK") && s.reason.starts_with("derived area")));
    assert!(p
        .skipped
        .iter()
        .any(|s| s.area.starts_with("EL") && s.reason.starts_with("unknown area")));
}
