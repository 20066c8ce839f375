//! Histograms: fixed buckets in seconds for Prometheus, and a fine logarithmic one for the
//! per-minute percentiles the console draws.

/// Upper bounds (seconds) of the duration and init-duration histograms: from a millisecond to
/// Lambda's longest timeout.
pub const DURATION_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0,
];

/// Upper bounds (seconds) of the async event age histogram: up to six hours, the longest
/// `MaximumEventAgeInSeconds`.
pub const AGE_BOUNDS: &[f64] = &[0.01, 0.1, 1.0, 10.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0];

/// A histogram over fixed bounds: counts per bucket (not cumulative; the last bucket is
/// `+Inf`), the sum and the count.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub bounds: &'static [f64],
    pub counts: Vec<u64>,
    pub sum: f64,
    pub count: u64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, seconds: f64) {
        let i = self.bounds.partition_point(|b| *b < seconds);
        self.counts[i] += 1;
        self.sum += seconds;
        self.count += 1;
    }

    /// Adds another histogram over the same bounds.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.sum += other.sum;
        self.count += other.count;
    }

    /// The cumulative counts, one per bound and then `+Inf`, as Prometheus writes them.
    pub fn cumulative(&self) -> Vec<u64> {
        let mut total = 0;
        self.counts
            .iter()
            .map(|c| {
                total += c;
                total
            })
            .collect()
    }
}

/// Buckets of the per-minute duration sketch: bucket `i` holds durations up to
/// `FINE_BASE_MS * FINE_FACTOR^i` milliseconds (the last bucket takes anything longer), so a
/// percentile read from it is within 12 % of the truth.
pub const FINE_BUCKETS: usize = 80;
const FINE_BASE_MS: f64 = 0.05;
const FINE_FACTOR: f64 = 1.25;

/// A per-minute duration sketch.
#[derive(Debug, Clone)]
pub struct Fine(pub [u32; FINE_BUCKETS]);

impl Default for Fine {
    fn default() -> Self {
        Self([0; FINE_BUCKETS])
    }
}

impl Fine {
    pub fn observe(&mut self, ms: f64) {
        let i = if ms <= FINE_BASE_MS {
            0
        } else {
            ((ms / FINE_BASE_MS).ln() / FINE_FACTOR.ln()).ceil() as usize
        };
        let slot = &mut self.0[i.min(FINE_BUCKETS - 1)];
        *slot = slot.saturating_add(1);
    }

    pub fn merge(&mut self, other: &Fine) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a = a.saturating_add(*b);
        }
    }

    /// The `q`-th percentile (0-100) in milliseconds: the geometric middle of the bucket it
    /// falls in; `None` without observations.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        let total: u64 = self.0.iter().map(|c| u64::from(*c)).sum();
        if total == 0 {
            return None;
        }
        let rank = ((q / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        for (i, c) in self.0.iter().enumerate() {
            seen += u64::from(*c);
            if seen >= rank {
                let upper = FINE_BASE_MS * FINE_FACTOR.powi(i as i32);
                return Some(if i == 0 {
                    upper
                } else {
                    upper / FINE_FACTOR.sqrt()
                });
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_whose_bound_they_do_not_exceed() {
        let mut h = Histogram::new(DURATION_BOUNDS);
        h.observe(0.001);
        h.observe(0.0011);
        h.observe(1000.0);
        assert_eq!(h.counts[0], 1);
        assert_eq!(h.counts[1], 1);
        assert_eq!(h.counts[DURATION_BOUNDS.len()], 1);
        assert_eq!(h.count, 3);
        let c = h.cumulative();
        assert_eq!(c.last(), Some(&3));
        assert_eq!(c[0], 1);
    }

    #[test]
    fn percentiles_from_the_sketch_are_within_its_precision() {
        let mut f = Fine::default();
        for ms in 1..=1000 {
            f.observe(f64::from(ms));
        }
        for (q, truth) in [(50.0, 500.0), (90.0, 900.0), (99.0, 990.0)] {
            let got = f.percentile(q).unwrap();
            assert!(
                (got - truth).abs() / truth < 0.13,
                "p{q}: {got} against {truth}"
            );
        }
        assert_eq!(Fine::default().percentile(50.0), None);
    }

    #[test]
    fn huge_and_tiny_durations_stay_in_range() {
        let mut f = Fine::default();
        f.observe(0.0);
        f.observe(1e12);
        assert_eq!(f.0[0], 1);
        assert_eq!(f.0[FINE_BUCKETS - 1], 1);
    }
}
