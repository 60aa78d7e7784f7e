//! A mergeable log-scale histogram of non-negative integers.
//!
//! Why this shape: a minute of router lines arrives in many POSTs (Logplex
//! sends ≤ 100 KiB at a time), and each POST is stored with DynamoDB
//! `UpdateItem ... ADD` without reading first. So a distribution must be a set
//! of counters that merge by adding: fixed buckets, one counter each.
//!
//! Buckets: one for zero, and bucket `i` (i ≥ 0) for values in
//! `[G^i, G^(i+1))` with `G` = [`GROWTH`] = 1.08. A quantile is read as the
//! geometric midpoint `G^(i+1/2)` of the bucket holding the nearest-rank
//! sample, so it is within `√G − 1` ≈ 3.9 % relative error of the exact
//! nearest-rank value (zero is exact). Values are integers: callers scale
//! (load × 100, memory ratio in per-mille). The highest bucket index is
//! [`MAX_BUCKET`] (covers every `u64`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Ratio between consecutive bucket bounds.
pub const GROWTH: f64 = 1.08;

/// Largest bucket index: `G^577` > `u64::MAX`.
pub const MAX_BUCKET: u16 = 577;

/// Counts per bucket. `Default` is empty.
#[derive(Default, Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Histogram {
    /// Samples equal to zero (e.g. `connect=0ms`, the usual case).
    zero: u64,
    /// Bucket index -> samples in `[G^i, G^(i+1))`; only non-empty buckets.
    buckets: BTreeMap<u16, u64>,
}

/// The bucket index of a value ≥ 1.
pub fn bucket_of(value: u64) -> u16 {
    debug_assert!(value >= 1);
    let i = ((value as f64).ln() / GROWTH.ln()).floor();
    if i <= 0.0 {
        0
    } else if i >= f64::from(MAX_BUCKET) {
        MAX_BUCKET
    } else {
        i as u16
    }
}

/// The value a bucket stands for: its geometric midpoint.
pub fn bucket_value(index: u16) -> f64 {
    GROWTH.powf(f64::from(index) + 0.5)
}

impl Histogram {
    /// Record one sample.
    pub fn record(&mut self, value: u64) {
        self.record_n(value, 1);
    }

    /// Record `n` samples of the same value.
    pub fn record_n(&mut self, value: u64, n: u64) {
        if n == 0 {
            return;
        }
        if value == 0 {
            self.zero = self.zero.saturating_add(n);
        } else {
            let c = self.buckets.entry(bucket_of(value)).or_insert(0);
            *c = c.saturating_add(n);
        }
    }

    /// Add every count of `other` (commutative, associative).
    pub fn merge(&mut self, other: &Histogram) {
        self.zero = self.zero.saturating_add(other.zero);
        for (&i, &n) in &other.buckets {
            if n > 0 {
                let c = self.buckets.entry(i).or_insert(0);
                *c = c.saturating_add(n);
            }
        }
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.buckets
            .values()
            .fold(self.zero, |acc, &n| acc.saturating_add(n))
    }

    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The `q` quantile (0 ≤ q ≤ 1, clamped), nearest rank: the value of the
    /// `ceil(q·n)`-th smallest sample (the smallest for q = 0), read from its
    /// bucket. `None` when empty or `q` is NaN.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 || q.is_nan() {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        // 1-based rank of the sample we want.
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = self.zero;
        if seen >= rank {
            return Some(0.0);
        }
        for (&i, &c) in &self.buckets {
            seen = seen.saturating_add(c);
            if seen >= rank {
                return Some(bucket_value(i));
            }
        }
        // Unreachable when counts add up; answer the top bucket rather than panic.
        self.max()
    }

    /// The largest sample, read from the highest non-empty bucket.
    pub fn max(&self) -> Option<f64> {
        if let Some((&i, _)) = self.buckets.iter().rev().find(|(_, &c)| c > 0) {
            Some(bucket_value(i))
        } else if self.zero > 0 {
            Some(0.0)
        } else {
            None
        }
    }

    /// Flat counters named `<prefix>_z` (zero) and `<prefix>_<i>` (bucket i),
    /// only the non-zero ones, added to `out`.
    pub fn write_counters(&self, prefix: &str, out: &mut BTreeMap<String, u64>) {
        if self.zero > 0 {
            out.insert(format!("{prefix}_z"), self.zero);
        }
        for (&i, &c) in &self.buckets {
            if c > 0 {
                out.insert(format!("{prefix}_{i}"), c);
            }
        }
    }

    /// Read one counter written by [`write_counters`](Self::write_counters):
    /// `suffix` is what follows `<prefix>_` (`z` or a bucket index).
    /// Errors name the attribute.
    pub fn read_counter(&mut self, name: &str, suffix: &str, count: u64) -> Result<(), String> {
        if suffix == "z" {
            self.zero = self.zero.saturating_add(count);
            return Ok(());
        }
        let valid_digits = !suffix.is_empty()
            && suffix.len() <= 3
            && suffix.bytes().all(|b| b.is_ascii_digit())
            && !(suffix.len() > 1 && suffix.starts_with('0'));
        match suffix.parse::<u16>() {
            Ok(i) if valid_digits && i <= MAX_BUCKET => {
                if count > 0 {
                    let c = self.buckets.entry(i).or_insert(0);
                    *c = c.saturating_add(count);
                }
                Ok(())
            }
            _ => Err(format!(
                "drain counter `{name}`: bucket index is not 0..={MAX_BUCKET} or `z`"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_exact_and_one_is_within_four_percent() {
        let mut h = Histogram::default();
        h.record(0);
        assert_eq!(h.quantile(0.5), Some(0.0));
        let mut h = Histogram::default();
        h.record(1);
        let v = h.quantile(0.5).unwrap();
        assert!((v - 1.0).abs() / 1.0 < 0.04, "{v}");
    }

    #[test]
    fn empty_has_no_quantile_or_max() {
        let h = Histogram::default();
        assert_eq!(h.quantile(0.95), None);
        assert_eq!(h.max(), None);
    }

    #[test]
    fn largest_value_lands_in_the_last_bucket() {
        assert!(bucket_of(u64::MAX) <= MAX_BUCKET);
        let mut h = Histogram::default();
        h.record(u64::MAX);
        assert!(h.max().unwrap() > 1e19);
    }

    #[test]
    fn counters_name_zero_and_buckets() {
        let mut h = Histogram::default();
        h.record(0);
        h.record(42);
        let mut out = BTreeMap::new();
        h.write_counters("sv", &mut out);
        let want_bucket = format!("sv_{}", bucket_of(42));
        assert_eq!(out.get("sv_z"), Some(&1));
        assert_eq!(out.get(&want_bucket), Some(&1));
        let mut back = Histogram::default();
        back.read_counter("sv_x", "x", 1).unwrap_err();
        back.read_counter("sv_01", "01", 1).unwrap_err();
        back.read_counter("sv_578", "578", 1).unwrap_err();
    }
}
