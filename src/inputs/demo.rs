//! Demo inputs: `sine` (Dynosaur's dummy plugin, deterministic) and `constant`.
//!
//! They need no account anywhere, so the quick start, the tests and a first
//! look at a policy work offline. The sine is a pure function of `now`.

use std::f64::consts::TAU;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};

use super::{BuildContext, InputType, Measure, MetricSource, SourceError, SourceSpec};
use crate::fields::{format_duration, Fields, KeyDoc};

pub(super) const SINE: InputType = InputType {
    name: "sine",
    per_dyno_key: "per_dyno",
    default_per_dyno: None,
    parse: parse_sine,
    keys: &[
        KeyDoc::new("amplitude", None, "swing around the offset"),
        KeyDoc::new("period", None, "length of one wave, e.g. \"1h\""),
        KeyDoc::new("offset", Some("0"), "the middle value"),
    ],
    example: "amplitude = 400\nperiod = \"1h\"",
    measure: Measure::Load,
    summary: "demo: offset + amplitude × sin(2π t / period)",
};

pub(super) const CONSTANT: InputType = InputType {
    name: "constant",
    per_dyno_key: "per_dyno",
    default_per_dyno: None,
    parse: parse_constant,
    keys: &[KeyDoc::new("value", None, "the value, >= 0")],
    example: "value = 250",
    measure: Measure::Load,
    summary: "demo: always the same value",
};

/// `offset + amplitude × sin(2π × t / period)`, with `t` seconds since the Unix
/// epoch, floored at 0 (load is never negative).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SineSource {
    pub amplitude: f64,
    pub period: TimeDelta,
    pub offset: f64,
}

impl SineSource {
    /// The value at `now`.
    pub fn value_at(&self, now: DateTime<Utc>) -> f64 {
        let period = self.period.num_milliseconds().max(1) as f64;
        let t = now.timestamp_millis().rem_euclid(period as i64) as f64;
        (self.offset + self.amplitude * (TAU * t / period).sin()).max(0.0)
    }
}

#[async_trait]
impl MetricSource for SineSource {
    async fn fetch(&self, now: DateTime<Utc>) -> Result<f64, SourceError> {
        Ok(self.value_at(now))
    }
}

impl SourceSpec for SineSource {
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            ("amplitude", self.amplitude.into()),
            ("period", format_duration(self.period).into()),
            ("offset", self.offset.into()),
        ]
    }

    fn build(&self, _: &BuildContext<'_>) -> Result<Arc<dyn MetricSource>, String> {
        Ok(Arc::new(*self))
    }
}

fn parse_sine(fields: &mut Fields) -> Option<Box<dyn SourceSpec>> {
    fields.require("amplitude", "");
    let amplitude = fields.opt_number("amplitude");
    fields.require("period", "");
    let period = fields.opt_duration("period");
    if period.is_some_and(|p| p <= TimeDelta::zero()) {
        fields.error("period", "must be > 0");
    }
    let offset = fields.opt_number("offset").unwrap_or(0.0);
    Some(Box::new(SineSource {
        amplitude: amplitude?,
        period: period.filter(|p| *p > TimeDelta::zero())?,
        offset,
    }))
}

/// Always the same value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConstantSource {
    pub value: f64,
}

#[async_trait]
impl MetricSource for ConstantSource {
    async fn fetch(&self, _: DateTime<Utc>) -> Result<f64, SourceError> {
        Ok(self.value)
    }
}

impl SourceSpec for ConstantSource {
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![("value", self.value.into())]
    }

    fn build(&self, _: &BuildContext<'_>) -> Result<Arc<dyn MetricSource>, String> {
        Ok(Arc::new(*self))
    }
}

fn parse_constant(fields: &mut Fields) -> Option<Box<dyn SourceSpec>> {
    fields.require("value", "");
    match fields.opt_number("value") {
        Some(v) if v < 0.0 => {
            fields.error("value", format!("must be >= 0, found {v}"));
            None
        }
        Some(value) => Some(Box::new(ConstantSource { value })),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sine_peaks_a_quarter_period_after_the_epoch_cycle() {
        let sine = SineSource {
            amplitude: 100.0,
            period: TimeDelta::hours(1),
            offset: 200.0,
        };
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert!((sine.value_at(start) - 200.0).abs() < 1e-6);
        assert!((sine.value_at(start + TimeDelta::minutes(15)) - 300.0).abs() < 1e-6);
        assert!((sine.value_at(start + TimeDelta::minutes(45)) - 100.0).abs() < 1e-6);
    }

    #[test]
    fn sine_never_goes_negative() {
        let sine = SineSource {
            amplitude: 100.0,
            period: TimeDelta::hours(1),
            offset: 0.0,
        };
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 45, 0).unwrap();
        assert_eq!(sine.value_at(start), 0.0);
    }
}
