//! The derived figures of the picture, exactly as docs/architecture.md defines them: national value
//! by aggregation rule and completeness, median, ranks with ties, z-scores and theme scores.

use super::catalog::{Aggregation, Direction, Indicator};

/// Values of one indicator (or its components) for one year, by region.
pub(crate) trait RegionValues {
    /// The current value of `indicator` for `region` in the year at hand.
    fn value(&self, region: &str, indicator: &str) -> Option<f64>;
    /// Whether that value is provisional.
    fn provisional(&self, _region: &str, _indicator: &str) -> bool {
        false
    }
}

/// What an aggregation rule computed from the regions that reported.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Computed {
    /// `None` when no region contributes (or the denominator or weights sum to zero).
    pub(crate) value: Option<f64>,
    /// Regions whose figures the rule used (for a ratio: both numerator and denominator).
    pub(crate) regions: u32,
    /// Whether any figure used is provisional.
    pub(crate) provisional: bool,
}

/// The rule's value over `regions` (the compared regions, not `SSS`), from whatever part
/// of them reported: whether that may stand for the country is [`national`]'s question.
pub(crate) fn aggregate(
    indicator: &str,
    rule: &Aggregation,
    regions: &[&str],
    values: &impl RegionValues,
) -> Computed {
    let (mut n, mut provisional) = (0u32, false);
    let mut used = |r: &str, indicators: &[&str]| {
        n += 1;
        provisional |= indicators.iter().any(|i| values.provisional(r, i));
    };
    let value = match rule {
        Aggregation::Sum => {
            let mut sum = 0.0;
            for r in regions {
                if let Some(v) = values.value(r, indicator) {
                    sum += v;
                    used(r, &[indicator]);
                }
            }
            Some(sum)
        }
        Aggregation::WeightedMean { weight } => {
            let (mut vw, mut w) = (0.0, 0.0);
            for r in regions {
                if let (Some(v), Some(wt)) = (values.value(r, indicator), values.value(r, weight)) {
                    vw += v * wt;
                    w += wt;
                    used(r, &[indicator, weight]);
                }
            }
            (w != 0.0).then(|| vw / w)
        }
        Aggregation::Ratio {
            numerator,
            denominator,
            scale,
        } => {
            let (mut num, mut den) = (0.0, 0.0);
            for r in regions {
                if let (Some(a), Some(b)) =
                    (values.value(r, numerator), values.value(r, denominator))
                {
                    num += a;
                    den += b;
                    used(r, &[numerator, denominator]);
                }
            }
            (den != 0.0).then(|| num / den * scale)
        }
        Aggregation::NationalOnly => None,
    };
    Computed {
        value: value.filter(|_| n > 0),
        regions: n,
        provisional,
    }
}

/// What a national value rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Basis {
    /// The value reported for the whole country.
    Official,
    /// Computed by the rule from every expected region.
    Complete,
    /// Computed by a ratio or weighted-mean rule from part of the country: an estimate.
    Partial,
    /// None: no official value, and the rule gives none that may stand for the country.
    Unavailable,
}

impl Basis {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Basis::Official => "official",
            Basis::Complete => "complete",
            Basis::Partial => "partial",
            Basis::Unavailable => "unavailable",
        }
    }
}

/// A national value and what it rests on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct National {
    /// The value shown as the national one: official, complete, or a partial ratio or
    /// weighted mean. Never a sum over part of the country.
    pub(crate) value: Option<f64>,
    pub(crate) basis: Basis,
    /// The rule's value, also when an official value wins; a sum only when complete.
    pub(crate) computed: Option<f64>,
    /// Regions the rule used, and regions expected (every compared region).
    pub(crate) regions_reported: u32,
    pub(crate) regions_expected: u32,
    /// The official value is provisional, or (for a computed value) a figure it uses is.
    pub(crate) provisional: bool,
}

/// A value computed over fewer than this share of the areas it stands for rests on a thin
/// basis, and says so: a "national" ratio from 1 of 19 regions is mostly one region's.
pub(crate) const THIN_BASIS_SHARE: f64 = 0.5;

impl National {
    /// Computed over part of the areas (partial), and over fewer than
    /// [`THIN_BASIS_SHARE`] of them.
    pub(crate) fn thin(&self) -> bool {
        self.basis == Basis::Partial
            && f64::from(self.regions_reported)
                < THIN_BASIS_SHARE * f64::from(self.regions_expected)
    }

    /// `value` of indicator `ind` as a share (%) of this whole: for a sum of a quantity that
    /// cannot be negative (the catalog's minimum is 0 or more: a population, an amount),
    /// when the whole is known (official or complete) and above zero. A net flow (natural
    /// increase, net migration) has no meaningful share.
    pub(crate) fn share(&self, ind: &Indicator, value: f64) -> Option<f64> {
        let whole = matches!(self.basis, Basis::Official | Basis::Complete);
        let quantity = ind.min_value.is_some_and(|m| m >= 0.0);
        match (&ind.aggregation, self.value) {
            (Aggregation::Sum, Some(n)) if whole && quantity && n > 0.0 && value >= 0.0 => {
                Some(value / n * 100.0)
            }
            _ => None,
        }
    }

    /// `value` of indicator `ind` less this one, where a difference means something: not
    /// for a sum (a region's count less the country's is only the rest of the country,
    /// negated; see [`National::share`]).
    pub(crate) fn difference(&self, ind: &Indicator, value: f64) -> Option<f64> {
        match ind.aggregation {
            Aggregation::Sum => None,
            _ => self.value.map(|n| value - n),
        }
    }
}

/// The national value by the completeness rules: a value reported for the whole country
/// wins; without one, a sum is the national value only when every expected region
/// reported (a sum over part of the country is no national figure), while a ratio or a
/// weighted mean over part of the country is given but marked partial.
/// `official` is the whole country's value and whether it is provisional.
pub(crate) fn national(
    rule: &Aggregation,
    official: Option<(f64, bool)>,
    computed: Computed,
    regions_expected: u32,
) -> National {
    let complete = regions_expected > 0 && computed.regions >= regions_expected;
    let shown_computed = match rule {
        Aggregation::Sum if !complete => None,
        _ => computed.value,
    };
    let (value, basis, provisional) = match (official, shown_computed) {
        (Some((v, provisional)), _) => (Some(v), Basis::Official, provisional),
        (None, Some(v)) if complete => (Some(v), Basis::Complete, computed.provisional),
        (None, Some(v)) => (Some(v), Basis::Partial, computed.provisional),
        (None, None) => (None, Basis::Unavailable, false),
    };
    National {
        value,
        basis,
        computed: shown_computed,
        regions_reported: computed.regions,
        regions_expected,
        provisional,
    }
}

/// Median; the mean of the two middle values for an even count. `None` when empty.
pub(crate) fn median(values: &[f64]) -> Option<f64> {
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
pub(crate) fn competition_ranks(values: &[f64], better: impl Fn(f64, f64) -> bool) -> Vec<u32> {
    values
        .iter()
        .map(|&v| 1 + values.iter().filter(|&&o| better(o, v)).count() as u32)
        .collect()
}

/// Ranks by an indicator's direction: 1 = best. Neutral indicators are not ranked (all 0).
pub(crate) fn ranks_by_direction(values: &[f64], direction: Direction) -> Vec<u32> {
    match direction {
        Direction::HigherIsBetter => competition_ranks(values, |a, b| a > b),
        Direction::LowerIsBetter => competition_ranks(values, |a, b| a < b),
        Direction::Neutral => vec![0; values.len()],
    }
}

/// The fewest regions reporting an indicator for it to count in theme scores.
pub(crate) const MIN_REGIONS_FOR_SCORE: usize = 3;

/// z-scores oriented so that higher is better: z = (v − mean)/sd with the population sd,
/// 0 when sd = 0, sign flipped for lower-is-better. `None` for neutral indicators or fewer
/// than [`MIN_REGIONS_FOR_SCORE`] values.
pub(crate) fn oriented_z_scores(values: &[f64], direction: Direction) -> Option<Vec<f64>> {
    if direction == Direction::Neutral || values.len() < MIN_REGIONS_FOR_SCORE {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let sd = var.sqrt();
    let sign = direction.sign();
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
pub(crate) fn mean(values: &[f64]) -> Option<f64> {
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
        let pop = aggregate("pop", &Aggregation::Sum, &REGIONS, &m);
        assert_eq!((pop.value, pop.regions), (Some(15.5), 2));
        assert_eq!(
            aggregate("gdp", &Aggregation::Sum, &REGIONS, &m).value,
            None
        );
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
        assert_eq!(aggregate("le", &rule, &REGIONS, &m).value, Some(77.5));
        let zero = map(&[("A", "le", 80.0), ("A", "pop", 0.0)]);
        assert_eq!(aggregate("le", &rule, &REGIONS, &zero).value, None);
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
        let rate = aggregate("rate", &rule, &REGIONS, &m);
        assert_eq!((rate.value, rate.regions), (Some(20.0), 2));
    }

    #[test]
    fn national_only_is_never_computed() {
        let m = map(&[("A", "idx", 100.0)]);
        assert_eq!(
            aggregate("idx", &Aggregation::NationalOnly, &REGIONS, &m).value,
            None
        );
    }

    #[test]
    fn a_sum_is_national_only_when_complete() {
        let m = map(&[("A", "pop", 10.0), ("C", "pop", 5.5)]);
        let part = aggregate("pop", &Aggregation::Sum, &REGIONS, &m);
        let n = national(&Aggregation::Sum, None, part, 3);
        assert_eq!(
            (n.value, n.basis, n.computed),
            (None, Basis::Unavailable, None)
        );
        assert_eq!((n.regions_reported, n.regions_expected), (2, 3));
        // The official value wins, whatever the regions reported.
        let o = national(&Aggregation::Sum, Some((20.0, true)), part, 3);
        assert_eq!(
            (o.value, o.basis, o.provisional),
            (Some(20.0), Basis::Official, true)
        );
        let all = map(&[("A", "pop", 1.0), ("B", "pop", 2.0), ("C", "pop", 3.0)]);
        let c = national(
            &Aggregation::Sum,
            None,
            aggregate("pop", &Aggregation::Sum, &REGIONS, &all),
            3,
        );
        assert_eq!(
            (c.value, c.basis, c.regions_reported),
            (Some(6.0), Basis::Complete, 3)
        );
    }

    #[test]
    fn a_ratio_over_part_of_the_country_is_partial() {
        let rule = Aggregation::Ratio {
            numerator: "u".into(),
            denominator: "lf".into(),
            scale: 100.0,
        };
        let m = map(&[
            ("A", "u", 10.0),
            ("A", "lf", 100.0),
            ("B", "u", 30.0),
            ("B", "lf", 100.0),
        ]);
        let n = national(&rule, None, aggregate("rate", &rule, &REGIONS, &m), 3);
        assert_eq!(
            (n.value, n.basis, n.regions_reported),
            (Some(20.0), Basis::Partial, 2)
        );
        let none = national(
            &rule,
            None,
            aggregate("rate", &rule, &REGIONS, &map(&[])),
            3,
        );
        assert_eq!((none.value, none.basis), (None, Basis::Unavailable));
        let only = national(
            &Aggregation::NationalOnly,
            None,
            aggregate("i", &Aggregation::NationalOnly, &REGIONS, &m),
            3,
        );
        assert_eq!(only.basis, Basis::Unavailable);
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
