//! Percentiles of samples.

/// The `p`-th percentile (0-100) of `samples`, interpolated between closest ranks (as numpy's
/// default); `None` for no samples. Sorts `samples`.
pub fn percentile(samples: &mut [f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let rank = (p / 100.0).clamp(0.0, 1.0) * (samples.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    Some(samples[lo] + (samples[hi] - samples[lo]) * frac)
}

pub fn median(samples: &mut [f64]) -> Option<f64> {
    percentile(samples, 50.0)
}

/// Smallest and largest sample.
pub fn range(samples: &[f64]) -> Option<(f64, f64)> {
    let min = samples.iter().copied().min_by(f64::total_cmp)?;
    let max = samples.iter().copied().max_by(f64::total_cmp)?;
    Some((min, max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates() {
        let mut v = vec![4.0, 1.0, 3.0, 2.0];
        assert_eq!(median(&mut v), Some(2.5));
        assert_eq!(percentile(&mut v, 0.0), Some(1.0));
        assert_eq!(percentile(&mut v, 100.0), Some(4.0));
        assert_eq!(median(&mut []), None);
        assert_eq!(range(&[2.0, 7.0, 1.0]), Some((1.0, 7.0)));
    }
}
