//! Synthetic submissions for the benchmarks and the memory test: `batch` observations per
//! submission, round robin over the regions and over every cell (indicator-year from 1990
//! to 2024) whose range admits values around 50, the same shape of data `loadgen` writes
//! over gRPC. Every value is unique, so every observation is a revision.

use super::{SubmitInput, WriteRequest};
use crate::domain::validate::ObservationInput;
use crate::domain::{Catalog, Status};

/// The cells a synthetic submission writes: (indicator, year).
pub fn cells(catalog: &Catalog) -> Vec<(String, i32)> {
    catalog
        .indicators
        .values()
        .filter(|i| i.min_value.is_none_or(|m| m <= 49.0) && i.max_value.is_none_or(|m| m >= 51.0))
        .flat_map(|i| (1990..=2024).map(move |y| (i.id.clone(), y)))
        .collect()
}

/// Submission number `round` of `batch` observations.
pub fn submission(
    catalog: &Catalog,
    cells: &[(String, i32)],
    round: usize,
    batch: usize,
) -> WriteRequest {
    let regions: Vec<&str> = catalog.current_regions().map(|r| r.code.as_str()).collect();
    let offset = round * batch;
    WriteRequest::Submit(SubmitInput {
        submission_id: format!("synthetic-{round}"),
        region_code: regions[round % regions.len()].to_owned(),
        expected_region_revision: None,
        observations: (0..batch)
            .map(|k| {
                let (ind, year) = &cells[(offset + k) % cells.len()];
                ObservationInput {
                    indicator_id: ind.clone(),
                    year: *year,
                    value: 50.0 + (offset + k) as f64 * 1e-7,
                    status: Some(Status::Provisional),
                    source: "synthetic".into(),
                    note: "synthetic benchmark data".into(),
                    correction_reason: String::new(),
                    borders: None,
                    published_micros: None,
                }
            })
            .collect(),
        validate_only: false,
    })
}
