use super::*;
use crate::table::{read as read_table, Datum};

const REAL: &[u8] =
    include_bytes!("../../../data/official/tables/statfin_rpk_pxt_135l_total_mk_ku_1987_2020.json");
const JOBS: &[u8] =
    include_bytes!("../../../data/official/tables/statfin_tyonv_pxt_12r5_2006_2023.json");

#[test]
fn the_real_135l_answer_reads_with_its_roles_and_release() {
    let t = read_table(REAL).unwrap();
    assert_eq!(t.format, "JSON-stat");
    assert_eq!(t.id, "statfin_rpk_pxt_135l");
    assert_eq!(
        t.updated_micros,
        crate::table::parse_updated("2021-05-12T10:15:00Z")
    );
    let sizes: Vec<usize> = t.dimensions.iter().map(|d| d.categories.len()).collect();
    assert_eq!(sizes, [34, 1, 328, 1]);
    assert_eq!(t.dimensions[0].role, Some(Role::Time));
    assert_eq!(t.dimensions[3].role, Some(Role::Metric));
    let area = &t.dimensions[2];
    assert_eq!(area.categories[0].code, "MK01");
    assert_eq!(area.categories[0].label(), "MK01 Uusimaa");
    assert_eq!(t.dimensions[3].categories[0].decimals, Some(2));
    // Helsinki (KU091, the third area) in 1987: the answer's value 222.81.
    let at = |y: &str, a: &str| {
        t.datum(t.index(&[
            t.dimensions[0].category(y).unwrap(),
            0,
            area.category(a).unwrap(),
            0,
        ]))
    };
    assert_eq!(at("1987", "KU091"), Datum::Value(222.81, None));
    assert_eq!(t.values_present(), 34 * 328);
}

#[test]
fn the_bundled_12r5_gives_the_published_jobseekers_of_april_2020() {
    let t = read_table(JOBS).unwrap();
    let d = |n: &str| t.dimension(n).unwrap();
    let mut at = vec![0; 3];
    at[d("Alue")] = t.dimensions[d("Alue")].category("SSS").unwrap();
    at[d("Kuukausi")] = t.dimensions[d("Kuukausi")].category("2020M04").unwrap();
    at[d("Tiedot")] = t.dimensions[d("Tiedot")]
        .category("TYOTTOMATLOPUSSA")
        .unwrap();
    // ../README: unemployed jobseekers at the end of April 2020, whole country: 433 058.
    assert_eq!(t.datum(t.index(&at)), Datum::Value(433_058.0, None));
}

const SPARSE: &str = r#"{"version":"2.0","class":"dataset","label":"Testi","source":"Tilastokeskus",
"updated":"2021-07-27T08:00:00Z","id":["Alue","Vuosi"],"size":[2,3],
"dimension":{"Alue":{"label":"Alue","category":{"index":{"SSS":0,"MK01":1},"label":{"SSS":"KOKO MAA","MK01":"MK01 Uusimaa"}}},
"Vuosi":{"label":"Vuosi","category":{"index":["2019","2020","2021"],"note":{"2021":["Ennakkotieto"]}}}},
"value":{"0":5525292,"1":5533793,"4":1702678},"status":{"2":"..","5":"p","4":"p"},
"role":{"time":["Vuosi"],"geo":["Alue"]},"extension":{"px":{"tableid":"test_sparse"}}}"#;

#[test]
fn sparse_values_and_statuses_by_index() {
    let t = read(SPARSE.as_bytes()).unwrap();
    assert_eq!(t.id, "test_sparse");
    assert_eq!(t.cells(), 6);
    assert_eq!(t.datum(0), Datum::Value(5_525_292.0, None));
    assert_eq!(t.datum(2), Datum::Missing(Some("..")));
    assert_eq!(t.datum(3), Datum::Missing(None));
    assert_eq!(t.datum(4), Datum::Value(1_702_678.0, Some("p")));
    assert_eq!(t.datum(5), Datum::Missing(Some("p")));
    assert_eq!(t.dimensions[1].categories[2].note, "Ennakkotieto");
    assert_eq!(t.dimensions[0].role, Some(Role::Geo));
    // The same dense, with nulls and one status for every cell.
    let dense = SPARSE
        .replace(
            r#""value":{"0":5525292,"1":5533793,"4":1702678}"#,
            r#""value":[5525292,5533793,null,null,1702678,null]"#,
        )
        .replace(r#""status":{"2":"..","5":"p","4":"p"}"#, r#""status":"e""#);
    let t = read(dense.as_bytes()).unwrap();
    assert_eq!(t.datum(4), Datum::Value(1_702_678.0, Some("e")));
    assert_eq!(t.datum(3), Datum::Missing(Some("e")));
}

#[test]
fn damaged_answers_are_refused_with_their_place() {
    let cases: &[(&str, &str, &str)] = &[
        (
            r#""size":[2,3]"#,
            r#""size":[2,4]"#,
            "has 3 categories but \"size\" says 4",
        ),
        (
            r#""size":[2,3]"#,
            r#""size":[2]"#,
            "\"id\" names 2 dimensions",
        ),
        (r#""4":1702678"#, r#""9":1702678"#, "cell index 9"),
        (
            r#""class":"dataset","#,
            r#""class":"collection","#,
            "only a JSON-stat dataset",
        ),
        (
            r#""geo":["Alue"]"#,
            r#""geo":["Alueet"]"#,
            "names a dimension that is not in",
        ),
        (
            r#""updated":"2021-07-27T08:00:00Z""#,
            r#""updated":"eilen""#,
            "not an ISO 8601 time",
        ),
        (r#""1":5533793"#, r#""1":"5533793""#, "invalid type"),
    ];
    for (from, to, words) in cases {
        assert!(SPARSE.contains(from), "{from}");
        let err = read(SPARSE.replacen(from, to, 1).as_bytes()).unwrap_err();
        assert!(err.to_string().contains(words), "{from:?} → {err}");
    }
    let v1 = br#"{"dataset":{"dimension":{"id":["a"],"size":[1]},"value":[1]}}"#;
    assert!(read(v1)
        .unwrap_err()
        .message
        .contains("ask PxWeb for \"json-stat2\""));
    // Without "class", an answer with "id" is read as a dataset.
    assert!(read(SPARSE.replace(r#""class":"dataset","#, "").as_bytes()).is_ok());
    // Truncated: the place is where the text ends.
    let err = read(&REAL[..REAL.len() / 2]).unwrap_err();
    assert!(err.message.contains("truncated"), "{err}");
    assert!(err.place.starts_with("line 1, column "), "{err}");
    // Dense values that do not fill the cube.
    let short = String::from_utf8_lossy(REAL).replace("[173.83,", "[");
    assert!(read(short.as_bytes())
        .unwrap_err()
        .message
        .contains("11151 values"));
}

mod fuzz {
    use super::*;
    use crate::table::tests::{consistent, edits, mutated};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::table::tests::fuzz_cases()))]

        #[test]
        fn mutated_answers_never_panic(which in 0..2usize, edits in edits()) {
            let base = if which == 0 { REAL } else { SPARSE.as_bytes() };
            if let Ok(t) = read(&mutated(base, edits)) { consistent(&t) }
        }
    }
}
