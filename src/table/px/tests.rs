use super::*;
use crate::table::{read as read_table, Datum, Role};

const REAL: &[u8] = include_bytes!("../../../data/official/tables/statfin_vaerak_pxt_11rc.px");

/// The cell of the real 11rc table for `year`, both sexes, every age.
fn population<'a>(t: &'a Table, year: &str) -> Datum<'a> {
    let at: Vec<usize> = t
        .dimensions
        .iter()
        .map(|d| match d.id.as_str() {
            "Vuosi" => d.category(year).unwrap(),
            _ => d.category("SSS").or_else(|| d.category("vaesto")).unwrap(),
        })
        .collect();
    t.datum(t.index(&at))
}

#[test]
fn the_real_11rc_file_reads_with_its_languages_and_reproduces_the_published_totals() {
    let t = read(REAL).unwrap();
    assert_eq!(t.id, "statfin_vaerak_pxt_11rc");
    assert_eq!(t.format, "PX");
    assert!(t.title.starts_with("Väestö 31.12."), "{}", t.title);
    assert_eq!(t.source, "Tilastokeskus, väestörakenne");
    // LAST-UPDATED="20240426 08:00" (Finnish time).
    assert_eq!(
        t.updated_micros,
        crate::table::parse_updated("2024-04-26T06:00:00Z")
    );
    let ids: Vec<&str> = t.dimensions.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["Vuosi", "Sukupuoli", "Ikä", "Tiedot"]);
    assert_eq!(t.dimensions[0].role, Some(Role::Time));
    assert_eq!(t.dimensions[3].role, Some(Role::Metric));
    assert_eq!(t.dimensions[0].categories.len(), 159);
    // Names and labels in Swedish and English too.
    assert!(t.dimensions[2].is_named("Ålder") && t.dimensions[2].is_named("Age"));
    assert_eq!(t.dimension("Year"), Some(0));
    let sex = &t.dimensions[1];
    assert_eq!(sex.category("Miehet"), sex.category("Män"));
    assert!(
        !t.dimensions[3].categories[0].note.is_empty(),
        "VALUENOTE read"
    );
    assert!(
        t.notes.iter().any(|n| n.contains("Nälkävuodet")),
        "NOTE in ISO-8859-15 read"
    );
    // The totals of ../README: the whole country on 31.12.2016 and 31.12.2020.
    assert_eq!(population(&t, "2016"), Datum::Value(5_503_297.0, None));
    assert_eq!(population(&t, "2020"), Datum::Value(5_533_793.0, None));
    assert_eq!(t.cells(), 159 * 3 * 19);
    assert_eq!(t.values_present(), t.cells());
}

#[test]
fn the_same_table_in_utf_8_reads_the_same() {
    let text: String = REAL.iter().map(|b| latin(*b, "iso-8859-15")).collect();
    let utf8 = text.replace("CODEPAGE=\"iso-8859-15\"", "CODEPAGE=\"utf-8\"");
    let a = read(REAL).unwrap();
    let b = read(utf8.as_bytes()).unwrap();
    assert_eq!(a.title, b.title);
    assert_eq!(a.notes, b.notes);
    assert_eq!(population(&b, "2020"), Datum::Value(5_533_793.0, None));
}

#[test]
fn a_wrong_code_page_is_refused_with_its_line() {
    // ISO-8859-15 bytes declared UTF-8: the first byte that is not UTF-8 names its line.
    let bytes: Vec<u8> = {
        let mut b = REAL.to_vec();
        let at = find(&b, b"iso-8859-15").unwrap();
        b.splice(at..at + 11, b"utf-8".iter().copied());
        b
    };
    let err = read(&bytes).unwrap_err();
    assert!(err.message.contains("not UTF-8"), "{err}");
    assert_eq!(err.place, "line 17", "DESCRIPTION is the first line with ä");
    // UTF-8 bytes declared ISO-8859-15.
    let text: String = REAL.iter().map(|b| latin(*b, "iso-8859-15")).collect();
    let err = read(text.as_bytes()).unwrap_err();
    assert!(err.message.contains("its text is UTF-8"), "{err}");
    // A code page nobody knows.
    let err = read(b"CODEPAGE=\"ebcdic\";\nSTUB=\"a\";VALUES(\"a\")=\"x\";DATA=1;").unwrap_err();
    assert!(err.message.contains("not one this reader knows"), "{err}");
}

const SMALL: &str = r#"CHARSET="ANSI";
AXIS-VERSION="2013";
CODEPAGE="utf-8";
LANGUAGE="fi";
LANGUAGES="fi","en";
TABLEID="test_keys";
TITLE="Testi";
TITLE[en]="Test";
CONTENTS="Testi";
UNITS="lkm";
STUB="Alue","Vuosi";
STUB[en]="Area","Year";
HEADING="Tiedot";
HEADING[en]="Information";
CONTVARIABLE="Tiedot";
VALUES("Alue")="Koko maa","Uusimaa","Varsinais-Suomi";
VALUES[en]("Area")="Whole country","Uusimaa","Southwest Finland";
CODES("Alue")="SSS","MK01","MK02";
VALUES("Vuosi")="2019","2020*";
TIMEVAL("Vuosi")=TLIST(A1, "2019"-"2020");
VALUES("Tiedot")="Väestö","Työttömät";
CODES("Tiedot")="vaesto","tyottomat";
PRECISION("Tiedot","Työttömät")=1;
VALUENOTE("Vuosi","2020*")="Ennakkotieto";
LAST-UPDATED("Väestö")="20210512 13:15";
LAST-UPDATED("Työttömät")="20210601 09:00";
DATASYMBOL2="..";
KEYS("Alue")=CODES;
DATA=
"SSS" 5525292 ".." 5533793 "-"
"MK02" 480626 "." 481403 12.5
;
"#;

#[test]
fn keys_rows_fill_a_sparse_table_and_symbols_stay_symbols() {
    let t = read(SMALL.as_bytes()).unwrap();
    assert_eq!(t.id, "test_keys");
    assert_eq!(t.cells(), 12);
    assert_eq!(t.values_present(), 5);
    // The latest LAST-UPDATED of the contents wins.
    assert_eq!(
        t.updated_micros,
        crate::table::parse_updated("2021-06-01T07:00:00Z")
    );
    let at = |a: usize, y: usize, c: usize| t.datum(t.index(&[a, y, c]));
    assert_eq!(at(0, 0, 0), Datum::Value(5_525_292.0, None));
    assert_eq!(at(0, 0, 1), Datum::Missing(Some("..")));
    assert_eq!(at(0, 1, 1), Datum::Missing(Some("-")));
    assert_eq!(at(2, 0, 1), Datum::Missing(Some(".")));
    assert_eq!(at(2, 1, 1), Datum::Value(12.5, None));
    // Uusimaa has no row: no value, and no symbol either.
    assert_eq!(at(1, 0, 0), Datum::Missing(None));
    let year = &t.dimensions[1];
    assert_eq!(year.role, Some(Role::Time));
    assert_eq!(year.categories[1].note, "Ennakkotieto");
    assert_eq!(t.dimensions[2].categories[1].decimals, Some(1));
    assert!(t.dimensions[0].is_named("Area"));
    assert_eq!(t.dimensions[0].category("Southwest Finland"), Some(2));
}

#[test]
fn damaged_files_are_refused_with_their_line() {
    let cases: &[(&str, &str, &str)] = &[
        // (what is changed, into what, the message's words)
        (
            "\"SSS\" 5525292",
            "\"XXX\" 5525292",
            "key \"XXX\" is not a code",
        ),
        ("12.5\n;", "12.5", "without ';'"),
        ("481403 12.5", "481403 twelve", "neither a number nor"),
        ("TITLE=\"Testi\";", "TITLE=\"Testi;", "not closed"),
        (
            "VALUES(\"Vuosi\")=\"2019\",\"2020*\";",
            "",
            "no VALUES(\"Vuosi\")",
        ),
        (
            "CODES(\"Alue\")=\"SSS\",\"MK01\",\"MK02\";",
            "CODES(\"Alue\")=\"SSS\";",
            "lists 1 codes for 3",
        ),
        (
            "\"MK02\" 480626 \".\" 481403 12.5\n",
            "\"MK02\" 480626 \".\" 481403\n",
            "not whole rows",
        ),
        ("UNITS=\"lkm\";", "UNITS=\"lkm\"", "expected ',' or ';'"),
    ];
    for (from, to, words) in cases {
        assert!(SMALL.contains(from), "{from}");
        let damaged = SMALL.replacen(from, to, 1);
        let err = read(damaged.as_bytes()).unwrap_err();
        assert!(err.message.contains(words), "{from:?} → {err}");
        assert!(
            err.place.starts_with("line ") || err.place == "the file",
            "{err}"
        );
    }
    // A dense table cut short.
    let cut = &REAL[..REAL.len() - 500];
    let err = read(cut).unwrap_err();
    assert!(err.message.contains("truncated"), "{err}");
    // A header without DATA.
    let head = &REAL[..find(REAL, b"DATA=").unwrap()];
    assert!(read(head).unwrap_err().message.contains("before its DATA"));
    assert!(read_table(b"   ").unwrap_err().message.contains("empty"));
}

mod fuzz {
    //! Random and mutated files: the reader answers `Ok` or `Err`, never panics, and an
    //! `Ok` table is consistent (every cell addressable).
    use super::*;
    use crate::table::tests::{consistent, edits, mutated};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(crate::table::tests::fuzz_cases()))]

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(t) = read(&bytes) { consistent(&t) }
        }

        #[test]
        fn mutated_real_and_keyed_files_never_panic(which in 0..2usize, edits in edits()) {
            let base = if which == 0 { REAL } else { SMALL.as_bytes() };
            if let Ok(t) = read(&mutated(base, edits)) { consistent(&t) }
        }
    }
}
