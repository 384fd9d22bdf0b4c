//! The derived figures of the picture, exactly as DESIGN.md §4 defines them: national value
//! by aggregation rule, median, ranks with ties, z-scores and theme scores.

use super::catalog::{Aggregation, Direction};

/// Values of one indicator (or its components) for one year, by region.
pub trait RegionValues {
    /// The current value of `indicator` for `region` in the year at hand.
    fn value(&self, region: &str, indicator: &str) -> Option<f64>;
}

/// The national value by rule over `regions` (the compared regions, not `SSS`).
/// `None` when no region contributes (or the denominator or weights sum to zero).
pub fn aggregate(
    indicator: &str,
    rule: &Aggregation,
    regions: &[&str],
    values: &impl RegionValues,
) -> Option<f64> {
    match rule {
        Aggregation::Sum => {
            let vals: Vec<f64> = regions
                .iter()
                .filter_map(|r| values.value(r, indicator))
                .collect();
            (!vals.is_empty()).then(|| vals.iter().sum())
        }
        Aggregation::WeightedMean { weight } => {
            let (mut vw, mut w, mut n) = (0.0, 0.0, 0);
            for r in regions {
                if let (Some(v), Some(wt)) = (values.value(r, indicator), values.value(r, weight)) {
                    vw += v * wt;
                    w += wt;
                    n += 1;
                }
            }
            (n > 0 && w != 0.0).then(|| vw / w)
        }
        Aggregation::Ratio {
            numerator,
            denominator,
            scale,
        } => {
            let (mut num, mut den, mut n) = (0.0, 0.0, 0);
            for r in regions {
                if let (Some(a), Some(b)) =
                    (values.value(r, numerator), values.value(r, denominator))
                {
                    num += a;
                    den += b;
                    n += 1;
                }
            }
            (n > 0 && den != 0.0).then(|| num / den * scale)
        }
        Aggregation::NationalOnly => None,
    }
}

/// Median; the mean of the two middle values for an even count. `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Competition ranks ("1224"): 1 + the number of entries strictly better. `better(a, b)`
/// says whether `a` is strictly better than `b`. Returned in input order.
pub fn competition_ranks(values: &[f64], better: impl Fn(f64, f64) -> bool) -> Vec<u32> {
    values
        .iter()
        .map(|&v| 1 + values.iter().filter(|&&o| better(o, v)).count() as u32)
        .collect()
}

/// Ranks by an indicator's direction: 1 = best. Neutral indicators are not ranked (all 0).
pub fn ranks_by_direction(values: &[f64], direction: Direction) -> Vec<u32> {
    match direction {
        Direction::HigherIsBetter => competition_ranks(values, |a, b| a > b),
        Direction::LowerIsBetter => competition_ranks(values, |a, b| a < b),
        Direction::Neutral => vec![0; values.len()],
    }
}

/// The fewest regions reporting an indicator for it to count in theme scores.
pub const MIN_REGIONS_FOR_SCORE: usize = 3;

/// z-scores oriented so that higher is better: z = (v − mean)/sd with the population sd,
/// 0 when sd = 0, sign flipped for lower-is-better. `None` for neutral indicators or fewer
/// than [`MIN_REGIONS_FOR_SCORE`] values.
pub fn oriented_z_scores(values: &[f64], direction: Direction) -> Option<Vec<f64>> {
    if direction == Direction::Neutral || values.len() < MIN_REGIONS_FOR_SCORE {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let sd = var.sqrt();
    let sign = if direction == Direction::LowerIsBetter {
        -1.0
    } else {
        1.0
    };
    Some(
        values
            .iter()
            .map(|v| {
                if sd == 0.0 {
                    0.0
                } else {
                    sign * (v - mean) / sd
                }
            })
            .collect(),
    )
}

/// Mean of a slice; `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Map(HashMap<(&'static str, &'static str), f64>);
    impl RegionValues for Map {
        fn value(&self, region: &str, indicator: &str) -> Option<f64> {
            self.0
                .iter()
                .find(|((r, i), _)| *r == region && *i == indicator)
                .map(|(_, v)| *v)
        }
    }

    fn map(entries: &[(&'static str, &'static str, f64)]) -> Map {
        Map(entries.iter().map(|(r, i, v)| ((*r, *i), *v)).collect())
    }

    const REGIONS: [&str; 3] = ["A", "B", "C"];

    #[test]
    fn sum_adds_reporting_regions() {
        let m = map(&[("A", "pop", 10.0), ("C", "pop", 5.5)]);
        assert_eq!(
            aggregate("pop", &Aggregation::Sum, &REGIONS, &m),
            Some(15.5)
        );
        assert_eq!(aggregate("gdp", &Aggregation::Sum, &REGIONS, &m), None);
    }

    #[test]
    fn weighted_mean_uses_regions_with_both() {
        let m = map(&[
            ("A", "le", 80.0),
            ("A", "pop", 3.0),
            ("B", "le", 70.0),
            ("B", "pop", 1.0),
            ("C", "le", 10.0), // no weight: left out
        ]);
        let rule = Aggregation::WeightedMean {
            weight: "pop".into(),
        };
        assert_eq!(aggregate("le", &rule, &REGIONS, &m), Some(77.5));
        let zero = map(&[("A", "le", 80.0), ("A", "pop", 0.0)]);
        assert_eq!(aggregate("le", &rule, &REGIONS, &zero), None);
    }

    #[test]
    fn ratio_of_sums_not_mean_of_ratios() {
        let m = map(&[
            ("A", "u", 10.0),
            ("A", "lf", 100.0),
            ("B", "u", 30.0),
            ("B", "lf", 100.0),
            ("C", "u", 1.0), // no denominator: left out
        ]);
        let rule = Aggregation::Ratio {
            numerator: "u".into(),
            denominator: "lf".into(),
            scale: 100.0,
        };
        assert_eq!(aggregate("rate", &rule, &REGIONS, &m), Some(20.0));
    }

    #[test]
    fn national_only_is_never_computed() {
        let m = map(&[("A", "idx", 100.0)]);
        assert_eq!(
            aggregate("idx", &Aggregation::NationalOnly, &REGIONS, &m),
            None
        );
    }

    #[test]
    fn median_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn ranks_share_the_best_rank_on_ties() {
        // "1224"
        assert_eq!(
            ranks_by_direction(&[9.0, 7.0, 7.0, 5.0], Direction::HigherIsBetter),
            vec![1, 2, 2, 4]
        );
        assert_eq!(
            ranks_by_direction(&[9.0, 7.0, 7.0, 5.0], Direction::LowerIsBetter),
            vec![4, 2, 2, 1]
        );
        assert_eq!(
            ranks_by_direction(&[1.0, 1.0, 1.0], Direction::HigherIsBetter),
            vec![1, 1, 1]
        );
        assert_eq!(
            ranks_by_direction(&[1.0, 2.0], Direction::Neutral),
            vec![0, 0]
        );
    }

    #[test]
    fn z_scores_population_sd_and_direction() {
        // mean 4, population sd 2
        let z = oriented_z_scores(&[2.0, 4.0, 6.0, 4.0], Direction::HigherIsBetter).unwrap();
        let sd = (8.0f64 / 4.0).sqrt();
        assert_eq!(z, vec![-2.0 / sd, 0.0, 2.0 / sd, 0.0]);
        let flipped = oriented_z_scores(&[2.0, 4.0, 6.0, 4.0], Direction::LowerIsBetter).unwrap();
        assert_eq!(flipped, vec![2.0 / sd, 0.0, -2.0 / sd, 0.0]);
        assert_eq!(
            oriented_z_scores(&[5.0, 5.0, 5.0], Direction::HigherIsBetter),
            Some(vec![0.0, 0.0, 0.0])
        );
        assert_eq!(
            oriented_z_scores(&[1.0, 2.0], Direction::HigherIsBetter),
            None
        );
        assert_eq!(
            oriented_z_scores(&[1.0, 2.0, 3.0], Direction::Neutral),
            None
        );
    }
}
