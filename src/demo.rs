//! The bundled real demo data: published Finnish regional figures with their sources, each
//! on the borders of its release (`data/demo/*.csv`), and the population of every
//! municipality 2000–2022 on the 2021 municipalities (`data/areas/`), loaded through the
//! ordinary write path on an empty store (`serve --demo`).

use crate::csvin;
use crate::domain::validate::ObservationInput;
use crate::domain::Status;
use crate::write::{SubmitInput, WriteRequest};

/// The population of every municipality on 31 December 2000–2022, on the 2021 municipalities
/// (`data/areas/README.md`).
const MUNICIPAL_POPULATION: &str =
    include_str!("../data/areas/population_municipality_2000_2022.csv");
/// The borders of [`MUNICIPAL_POPULATION`]: THL's figures are on the 2021 municipalities.
const MUNICIPAL_POPULATION_BORDERS: i32 = 2021;
/// Its source, as every figure of it cites it.
const MUNICIPAL_POPULATION_SOURCE: &str = "THL Sotkanet, indicator 127 'Väestö 31.12.' \
    (from Statistics Finland's population statistics), by municipality on the 2021 \
    municipalities (earlier figures of merged municipalities summed into their successor); \
    rOpenGov/geofi data/sotkadata_population.rda, commit 18c8c7fa; CC BY 4.0";

/// The demo files, in load order (chronological order of the releases).
pub(crate) const FILES: &[(&str, &str)] = &[
    (
        "010_population_2006_2007_release_2008-03-28.csv",
        include_str!("../data/demo/010_population_2006_2007_release_2008-03-28.csv"),
    ),
    (
        "020_population_2008_release_2009-03-27.csv",
        include_str!("../data/demo/020_population_2008_release_2009-03-27.csv"),
    ),
    (
        "030_population_2009_release_2010-03-19.csv",
        include_str!("../data/demo/030_population_2009_release_2010-03-19.csv"),
    ),
    (
        "040_gdp_per_capita_2011_release_2013-12-11.csv",
        include_str!("../data/demo/040_gdp_per_capita_2011_release_2013-12-11.csv"),
    ),
    (
        "050_gva_change_2013_release_2015-12-11.csv",
        include_str!("../data/demo/050_gva_change_2013_release_2015-12-11.csv"),
    ),
    (
        "060_gva_change_2015_preliminary_release_2016-12-09.csv",
        include_str!("../data/demo/060_gva_change_2015_preliminary_release_2016-12-09.csv"),
    ),
    (
        "070_population_2016_secondary.csv",
        include_str!("../data/demo/070_population_2016_secondary.csv"),
    ),
    (
        "080_long_term_unemployment_2017_release_2018-05-25.csv",
        include_str!("../data/demo/080_long_term_unemployment_2017_release_2018-05-25.csv"),
    ),
    (
        "090_lfs_unemployment_rate_15_74_2016_2017_release_2019-01-24.csv",
        include_str!(
            "../data/demo/090_lfs_unemployment_rate_15_74_2016_2017_release_2019-01-24.csv"
        ),
    ),
    (
        "100_vital_statistics_2019_preliminary_release_2020-01-23.csv",
        include_str!("../data/demo/100_vital_statistics_2019_preliminary_release_2020-01-23.csv"),
    ),
    (
        "110_disposable_income_change_2018_release_2020-11-25.csv",
        include_str!("../data/demo/110_disposable_income_change_2018_release_2020-11-25.csv"),
    ),
    (
        "120_vital_statistics_2020_preliminary_2019_final_release_2021-01-21.csv",
        include_str!(
            "../data/demo/120_vital_statistics_2020_preliminary_2019_final_release_2021-01-21.csv"
        ),
    ),
    (
        "130_lfs_unemployment_rate_15_74_2018_2020_release_2021-01-28.csv",
        include_str!(
            "../data/demo/130_lfs_unemployment_rate_15_74_2018_2020_release_2021-01-28.csv"
        ),
    ),
    (
        "140_lfs_2020_15_64_release_2021-03-04.csv",
        include_str!("../data/demo/140_lfs_2020_15_64_release_2021-03-04.csv"),
    ),
    (
        "150_thl_morbidity_index_2019_edition.csv",
        include_str!("../data/demo/150_thl_morbidity_index_2019_edition.csv"),
    ),
];

/// The demo as write requests: one atomic submission per (file, region), in load order.
/// Submission ids are `demo/<file stem>/<region>`, so a reload is idempotent.
pub fn requests() -> Result<Vec<WriteRequest>, String> {
    let mut out = Vec::new();
    for (name, text) in FILES {
        let rows = csvin::parse(text).map_err(|e| format!("{name}: {e}"))?;
        let stem = name.trim_end_matches(".csv");
        for (region, rows) in
            csvin::group_by_region(rows, None).map_err(|e| format!("{name}: {e}"))?
        {
            out.push(WriteRequest::Submit(SubmitInput {
                validate_only: false,
                submission_id: format!("demo/{stem}/{region}"),
                region_code: region,
                expected_region_revision: None,
                observations: rows.into_iter().map(|r| r.observation).collect(),
            }));
        }
    }
    out.extend(municipal_population()?);
    Ok(out)
}

/// The municipal population as one submission per municipality (`demo/population_kunta/
/// KU###`).
fn municipal_population() -> Result<Vec<WriteRequest>, String> {
    #[derive(serde::Deserialize)]
    struct Row {
        municipality: String,
        year: i32,
        population: f64,
    }
    let mut by_municipality: std::collections::BTreeMap<String, Vec<ObservationInput>> =
        Default::default();
    for row in csv::Reader::from_reader(MUNICIPAL_POPULATION.as_bytes()).into_deserialize() {
        let r: Row = row.map_err(|e| format!("population_municipality_2000_2022.csv: {e}"))?;
        by_municipality
            .entry(r.municipality)
            .or_default()
            .push(ObservationInput {
                indicator_id: "population".into(),
                year: r.year,
                value: r.population,
                status: Some(Status::Final),
                source: MUNICIPAL_POPULATION_SOURCE.into(),
                note: String::new(),
                correction_reason: String::new(),
                borders: Some(MUNICIPAL_POPULATION_BORDERS),
            });
    }
    Ok(by_municipality
        .into_iter()
        .map(|(code, observations)| {
            WriteRequest::Submit(SubmitInput {
                validate_only: false,
                submission_id: format!("demo/population_kunta/{code}"),
                region_code: code,
                expected_region_revision: None,
                observations,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_file_is_listed_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/demo");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".csv"))
            .collect();
        on_disk.sort();
        let listed: Vec<String> = FILES.iter().map(|(n, _)| (*n).to_owned()).collect();
        assert_eq!(listed, on_disk);
    }

    #[test]
    fn demo_parses() {
        let reqs = requests().unwrap();
        assert!(reqs.len() > 50);
    }
}
