//! Measures of regional disparity and convergence (docs/analysis.md gives each formula and
//! its source). Pure functions over values (and populations): the projection picks the
//! areas, years and borders.
//!
//! A measure that cannot be computed says why ([`Measure`] is `Err` with the reason), never
//! 0 or NaN: relative measures need a positive mean (and the max/min ratio and convergence a
//! positive smallest value), a population-weighted one needs populations.

/// A computed figure, or why there is none.
pub(crate) type Measure = Result<f64, String>;

/// The fewest areas a dispersion is computed over: with two areas every measure is the
/// difference of one pair, not a spread.
pub(crate) const MIN_AREAS: usize = 3;

/// The share of the population in each tail of the top/bottom ratio (OECD: 20 %).
pub(crate) const TAIL_SHARE: f64 = 0.2;

/// One year's dispersion across the areas that reported.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Dispersion {
    /// Areas with a value.
    pub(crate) areas: u32,
    /// Areas with a value and a population.
    pub(crate) weighted_areas: u32,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    pub(crate) range: Measure,
    pub(crate) max_min_ratio: Measure,
    pub(crate) cv: Measure,
    pub(crate) cv_weighted: Measure,
    pub(crate) gini: Measure,
    pub(crate) top_bottom_ratio: Measure,
}

fn too_few(n: usize) -> String {
    format!("too few areas: {n} reported, a dispersion needs at least {MIN_AREAS}")
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Why relative measures cannot be taken of `values` (all ≥ 0 with a positive mean), if
/// they cannot.
fn not_relative(values: &[f64]) -> Option<String> {
    if let Some(v) = values.iter().find(|v| **v < 0.0) {
        return Some(format!(
            "a value is negative ({v}): relative measures need values of one sign"
        ));
    }
    (mean(values) <= 0.0).then(|| "the mean is 0: relative measures divide by it".to_owned())
}

/// The coefficient of variation: population standard deviation over the mean.
pub(crate) fn cv(values: &[f64]) -> Measure {
    if values.len() < MIN_AREAS {
        return Err(too_few(values.len()));
    }
    if let Some(why) = not_relative(values) {
        return Err(why);
    }
    let m = mean(values);
    let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len() as f64;
    Ok(var.sqrt() / m)
}

/// The unweighted Gini coefficient: Σᵢ Σⱼ |yᵢ − yⱼ| / (2 n² ȳ), computed over the sorted
/// values as Σᵢ (2i − n − 1) y₍ᵢ₎ / (n² ȳ).
pub(crate) fn gini(values: &[f64]) -> Measure {
    if values.len() < MIN_AREAS {
        return Err(too_few(values.len()));
    }
    if let Some(why) = not_relative(values) {
        return Err(why);
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, y)| (2.0 * (i as f64 + 1.0) - n - 1.0) * y)
        .sum();
    Ok(weighted / (n * n * mean(&sorted)))
}

/// Why the population-weighted measures cannot be taken over `pairs` (value, population):
/// too few areas with a population, or values a relative measure cannot divide by.
fn weighted_precondition(pairs: &[(f64, f64)]) -> Result<(), String> {
    if pairs.len() < MIN_AREAS {
        return Err(format!(
            "too few areas with a population: {} (at least {MIN_AREAS})",
            pairs.len()
        ));
    }
    let values: Vec<f64> = pairs.iter().map(|(v, _)| *v).collect();
    match not_relative(&values) {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// The population-weighted coefficient of variation (Williamson):
/// (1/Ȳ)·√Σ(pᵢ/P)(yᵢ − Ȳ)², Ȳ = Σ(pᵢ/P)yᵢ, over pairs (value, population).
pub(crate) fn cv_weighted(pairs: &[(f64, f64)]) -> Measure {
    weighted_precondition(pairs)?;
    let p: f64 = pairs.iter().map(|(_, p)| p).sum();
    if p <= 0.0 {
        return Err("the areas' population is 0".into());
    }
    let m: f64 = pairs.iter().map(|(v, w)| v * w / p).sum();
    if m <= 0.0 {
        return Err("the weighted mean is 0: relative measures divide by it".into());
    }
    let var: f64 = pairs.iter().map(|(v, w)| w / p * (v - m).powi(2)).sum();
    Ok(var.sqrt() / m)
}

/// The ratio of the mean value of the highest-valued areas holding [`TAIL_SHARE`] of the
/// population to that of the lowest-valued ones (OECD). The area at a tail's edge counts
/// with the part of its population that completes the tail.
pub(crate) fn top_bottom_ratio(pairs: &[(f64, f64)]) -> Measure {
    weighted_precondition(pairs)?;
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = sorted.iter().map(|(_, p)| p).sum();
    if total <= 0.0 {
        return Err("the areas' population is 0".into());
    }
    let tail = |it: &mut dyn Iterator<Item = &(f64, f64)>| {
        let want = total * TAIL_SHARE;
        let (mut taken, mut sum) = (0.0, 0.0);
        for (v, p) in it {
            let part = p.min(want - taken);
            taken += part;
            sum += part * v;
            if taken >= want {
                break;
            }
        }
        sum / taken
    };
    let bottom = tail(&mut sorted.iter());
    let top = tail(&mut sorted.iter().rev());
    if bottom <= 0.0 {
        return Err("the bottom 20 % have a mean of 0: the ratio divides by it".into());
    }
    Ok(top / bottom)
}

impl Dispersion {
    /// The dispersion of `values`; `populations` pairs each value with its area's
    /// population where it is known (`None` where not).
    pub(crate) fn of(values: &[f64], populations: &[Option<f64>]) -> Dispersion {
        debug_assert_eq!(values.len(), populations.len());
        let n = values.len();
        let min = values.iter().copied().reduce(f64::min);
        let max = values.iter().copied().reduce(f64::max);
        let pairs: Vec<(f64, f64)> = values
            .iter()
            .zip(populations)
            .filter_map(|(v, p)| p.map(|p| (*v, p)))
            .collect();
        let population = |m: Measure| match m {
            Err(_) if pairs.is_empty() && n >= MIN_AREAS => {
                Err("no population is known for these areas, year and borders".to_owned())
            }
            m => m,
        };
        let range = match (min, max) {
            (Some(lo), Some(hi)) if n >= MIN_AREAS => Ok(hi - lo),
            _ => Err(too_few(n)),
        };
        let max_min_ratio = match (min, max) {
            (Some(lo), Some(hi)) if n >= MIN_AREAS && lo > 0.0 => Ok(hi / lo),
            (Some(lo), _) if n >= MIN_AREAS => Err(format!(
                "the smallest value is {lo}: the ratio needs positive values"
            )),
            _ => Err(too_few(n)),
        };
        Dispersion {
            areas: n as u32,
            weighted_areas: pairs.len() as u32,
            min,
            max,
            range,
            max_min_ratio,
            cv: cv(values),
            cv_weighted: population(cv_weighted(&pairs)),
            gini: gini(values),
            top_bottom_ratio: population(top_bottom_ratio(&pairs)),
        }
    }
}

impl Dispersion {
    /// The extent of `values` with no measure taken, each saying `why`.
    pub(crate) fn not_taken(values: &[f64], why: &str) -> Dispersion {
        let no = || Err(why.to_owned());
        Dispersion {
            areas: values.len() as u32,
            weighted_areas: 0,
            min: values.iter().copied().reduce(f64::min),
            max: values.iter().copied().reduce(f64::max),
            range: no(),
            max_min_ratio: no(),
            cv: no(),
            cv_weighted: no(),
            gini: no(),
            top_bottom_ratio: no(),
        }
    }
}

/// The ordinary least-squares slope of `y` on `x`; `None` with fewer than two distinct `x`.
pub(crate) fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|(x, _)| x).sum::<f64>() / n;
    let my = points.iter().map(|(_, y)| y).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The fewest years sigma-convergence is judged from (a trend of two points is one change).
pub(crate) const MIN_YEARS: usize = 3;

/// Sigma-convergence: the trend (OLS slope per year) of the coefficient of variation over
/// the years that have one. Narrowing when the slope is negative.
pub(crate) fn sigma(cvs: &[(i32, f64)]) -> Measure {
    if cvs.len() < MIN_YEARS {
        return Err(format!(
            "too few years with a coefficient of variation: {} (at least {MIN_YEARS})",
            cvs.len()
        ));
    }
    let points: Vec<(f64, f64)> = cvs.iter().map(|(y, c)| (f64::from(*y), *c)).collect();
    slope(&points).ok_or_else(|| "the years do not differ".to_owned())
}

/// Beta-convergence: the OLS slope of the yearly growth, ln(y_end / y_start) / years, on the
/// starting level ln(y_start), over areas with positive values at both ends (Monfort 2008).
/// Negative: areas that started lower grew faster. `Ok((slope, areas))`.
pub(crate) fn beta(pairs: &[(f64, f64)], years: i32) -> Result<(f64, u32), String> {
    if years <= 0 {
        return Err("the span must cover at least two years".into());
    }
    if let Some((a, b)) = pairs.iter().find(|(a, b)| *a <= 0.0 || *b <= 0.0) {
        return Err(format!(
            "a value is not positive ({} → {}): growth is measured in logarithms",
            a, b
        ));
    }
    if pairs.len() < MIN_AREAS {
        return Err(format!(
            "too few areas with a value at both ends: {} (at least {MIN_AREAS})",
            pairs.len()
        ));
    }
    let points: Vec<(f64, f64)> = pairs
        .iter()
        .map(|(a, b)| (a.ln(), (b / a).ln() / f64::from(years)))
        .collect();
    slope(&points)
        .map(|s| (s, pairs.len() as u32))
        .ok_or_else(|| "every area started at the same level".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} != {b}");
    }

    #[test]
    fn measures_match_hand_computed_values() {
        // 2, 4, 6: mean 4, population sd √(8/3).
        let v = [2.0, 4.0, 6.0];
        close(cv(&v).unwrap(), (8.0f64 / 3.0).sqrt() / 4.0);
        // Pairs |2-4|+|2-6|+|4-6| = 8, twice = 16; 16 / (2·9·4) = 2/9.
        close(gini(&v).unwrap(), 2.0 / 9.0);
        // Weights 1, 1, 2 (P = 4): Ȳ = (2 + 4 + 12) / 4 = 4.5;
        // var = (6.25 + 0.25 + 2·2.25) / 4 = 2.75.
        let pairs = [(2.0, 1.0), (4.0, 1.0), (6.0, 2.0)];
        close(cv_weighted(&pairs).unwrap(), 2.75f64.sqrt() / 4.5);
        // 20 % of 4 = 0.8: bottom 0.8 of the area valued 2, top 0.8 of the one valued 6.
        close(top_bottom_ratio(&pairs).unwrap(), 3.0);
        // Populations 1, 1, 1, 1, 1 (P = 5, tails of 1): 10 / 1.
        let five = [(1.0, 1.0), (2.0, 1.0), (3.0, 1.0), (4.0, 1.0), (10.0, 1.0)];
        close(top_bottom_ratio(&five).unwrap(), 10.0);
        // Tails of 0.4 of 2: 0.4 of each end.
        let two_tails = [(1.0, 0.3), (3.0, 0.3), (5.0, 1.4)];
        close(
            top_bottom_ratio(&two_tails).unwrap(),
            5.0 / ((0.3 * 1.0 + 0.1 * 3.0) / 0.4),
        );
        let d = Dispersion::of(&v, &[Some(1.0), None, Some(2.0)]);
        assert_eq!((d.areas, d.weighted_areas), (3, 2));
        close(d.range.clone().unwrap(), 4.0);
        close(d.max_min_ratio.clone().unwrap(), 3.0);
        assert!(d
            .cv_weighted
            .unwrap_err()
            .contains("too few areas with a population"));
    }

    #[test]
    fn what_cannot_be_computed_says_why() {
        assert!(cv(&[1.0, 2.0]).unwrap_err().contains("too few areas"));
        assert!(cv(&[-1.0, 2.0, 3.0]).unwrap_err().contains("negative"));
        assert!(gini(&[0.0, 0.0, 0.0]).unwrap_err().contains("mean is 0"));
        let d = Dispersion::of(&[-1.0, 2.0, 3.0], &[None, None, None]);
        assert!(d.range.is_ok());
        assert!(d.max_min_ratio.unwrap_err().contains("smallest value"));
        assert!(d.top_bottom_ratio.unwrap_err().contains("no population"));
        assert!(sigma(&[(2020, 0.1), (2021, 0.2)])
            .unwrap_err()
            .contains("too few years"));
        assert!(beta(&[(1.0, 2.0), (0.0, 1.0), (2.0, 3.0)], 5)
            .unwrap_err()
            .contains("not positive"));
    }

    #[test]
    fn convergence_slopes() {
        close(
            sigma(&[(2000, 0.3), (2001, 0.2), (2002, 0.1)]).unwrap(),
            -0.1,
        );
        // Growth of ln 2 over one year from 1, of 0 from e: slope −ln 2.
        let (b, n) = beta(
            &[
                (1.0, 2.0),
                (std::f64::consts::E, std::f64::consts::E),
                (1.0, 2.0),
            ],
            1,
        )
        .unwrap();
        close(b, -(2.0f64.ln()));
        assert_eq!(n, 3);
    }
}
