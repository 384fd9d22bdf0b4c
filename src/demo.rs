//! The bundled real demo data: published Finnish regional figures with their sources, each
//! on the borders of its release (`data/demo/*.csv`, the service's own submission format),
//! and Statistics Finland's and THL's tables as published (`data/official/tables/`), loaded
//! through the same plan as `tilannekuva import-table` with the mappings that ship with the
//! product (`data/official/mappings/`). Everything goes through the ordinary write path on
//! an empty store (`serve --demo`).

use crate::csvin;
use crate::domain::Catalog;
use crate::table;
use crate::write::{SubmitInput, WriteRequest};

/// The bundled official tables, in load order: (mapping, its text, table file, its bytes).
pub(crate) const TABLES: &[(&str, &str, &str, &[u8])] = &[
    (
        "sotkanet_127.toml",
        include_str!("../data/official/mappings/sotkanet_127.toml"),
        "thl_sotkanet_127_population_2000_2022.json",
        include_bytes!("../data/official/tables/thl_sotkanet_127_population_2000_2022.json"),
    ),
    (
        "statfin_rpk_pxt_135l.toml",
        include_str!("../data/official/mappings/statfin_rpk_pxt_135l.toml"),
        "statfin_rpk_pxt_135l_total_sss_1987_2020.json",
        include_bytes!("../data/official/tables/statfin_rpk_pxt_135l_total_sss_1987_2020.json"),
    ),
    (
        "statfin_rpk_pxt_135l.toml",
        include_str!("../data/official/mappings/statfin_rpk_pxt_135l.toml"),
        "statfin_rpk_pxt_135l_total_mk_ku_1987_2020.json",
        include_bytes!("../data/official/tables/statfin_rpk_pxt_135l_total_mk_ku_1987_2020.json"),
    ),
    (
        "statfin_tyonv_pxt_12r5.toml",
        include_str!("../data/official/mappings/statfin_tyonv_pxt_12r5.toml"),
        "statfin_tyonv_pxt_12r5_2006_2023.json",
        include_bytes!("../data/official/tables/statfin_tyonv_pxt_12r5_2006_2023.json"),
    ),
    (
        "kuntien_avainluvut.toml",
        include_str!("../data/official/mappings/kuntien_avainluvut.toml"),
        "kuntien_avainluvut_2006_2016.json",
        include_bytes!("../data/official/tables/kuntien_avainluvut_2006_2016.json"),
    ),
];

/// The demo files, in load order (chronological order of the releases).
pub const FILES: &[(&str, &str)] = &[
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

/// The demo as write requests, in batches to be written in order: one batch per file or
/// table, one atomic submission per area, the submissions of a batch on distinct areas (so
/// they may be written concurrently). CSV submission ids are `demo/<file stem>/<region>`,
/// tables' those of [`table::plan`], so a reload is idempotent. `catalog` is the store's,
/// for the tables' areas and indicators.
pub fn requests(catalog: &Catalog) -> Result<Vec<Vec<WriteRequest>>, String> {
    let mut out = Vec::new();
    for (name, text) in FILES {
        let rows = csvin::parse(text).map_err(|e| format!("{name}: {e}"))?;
        let stem = name.trim_end_matches(".csv");
        let mut batch = Vec::new();
        for (region, rows) in csvin::group_by_region(rows, None, "--region", |a, b| a == b)
            .all()
            .map_err(|e| format!("{name}: {e}"))?
        {
            batch.push(WriteRequest::Submit(SubmitInput {
                validate_only: false,
                submission_id: format!("demo/{stem}/{region}"),
                region_code: region,
                expected_region_revision: None,
                observations: rows.into_iter().map(|r| r.observation).collect(),
            }));
        }
        out.push(batch);
    }
    let year = crate::write::current_year();
    for (mapping_name, mapping, file, bytes) in TABLES {
        let mapping =
            table::mapping::Mapping::parse(mapping).map_err(|e| format!("{mapping_name}: {e}"))?;
        let t = table::read_mapped(bytes, &mapping).map_err(|e| format!("{file}: {e}"))?;
        let plan = table::plan::plan(&t, &mapping, catalog, year)
            .map_err(|e| format!("{file} with {mapping_name}: {e}"))?;
        out.push(
            plan.submissions
                .into_iter()
                .map(|(submission_id, region_code, observations)| {
                    WriteRequest::Submit(SubmitInput {
                        validate_only: false,
                        submission_id,
                        region_code,
                        expected_region_revision: None,
                        observations,
                    })
                })
                .collect(),
        );
    }
    Ok(out)
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
        let batches = requests(&Catalog::bundled()).unwrap();
        assert_eq!(batches.len(), FILES.len() + TABLES.len());
        // Within a batch every submission is of its own area.
        for b in &batches {
            let mut areas = std::collections::HashSet::new();
            for r in b {
                let WriteRequest::Submit(s) = r else {
                    panic!("submissions only")
                };
                assert!(areas.insert((s.region_code.clone(), s.submission_id.clone())));
            }
        }
    }
}
