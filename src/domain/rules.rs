//! Step 1 of `decide`: one input's samples → its dyno estimate, per rule.
//!
//! Every rule answers with a dyno count (the estimate) and a sentence that
//! names the rule and its numbers. Relative rules (`consecutive`, `average`,
//! `trend`, `target`) answer relative to the current count; holding means
//! estimating exactly the current count. What follows (max over inputs,
//! fail-safe, bounds, cool-offs, step limits) is the same for every rule.

use chrono::{DateTime, TimeDelta, Utc};

use super::policy::{AverageRule, ConsecutiveRule, Per, TargetRule, TrendRule};
use super::{Rule, Sample, TREND_MIN_SAMPLES};

/// What a rule may look at. `samples` are finite, oldest first, none after
/// `now`, and the newest is fresh (the caller checked).
pub(super) struct Context<'a> {
    pub samples: &'a [Sample],
    pub current: u32,
    /// When the formation was last scaled; relative rules ignore older samples.
    pub last_scale: Option<DateTime<Utc>>,
    pub hysteresis: TimeDelta,
    /// Samples further apart than this are not consecutive polls.
    pub stale_after: TimeDelta,
    pub now: DateTime<Utc>,
}

impl Context<'_> {
    fn newest(&self) -> Sample {
        // The caller never passes an empty slice; a zero sample is a safe reading.
        self.samples.last().copied().unwrap_or(Sample {
            at: self.now,
            value: 0.0,
        })
    }

    /// " since the last scale" when there was one, for explanations.
    fn since_note(&self) -> &'static str {
        if self.last_scale.is_some() {
            " since the last scale"
        } else {
            ""
        }
    }

    /// Samples taken after the last scale: earlier ones measured a formation
    /// of a different size.
    fn since_scale(&self) -> &[Sample] {
        match self.last_scale {
            None => self.samples,
            Some(at) => {
                let first = self.samples.partition_point(|s| s.at <= at);
                &self.samples[first..]
            }
        }
    }
}

/// A rule's answer.
pub(super) struct Outcome {
    /// The value the rule decided on (window max, mean, newest, ...).
    pub value: f64,
    pub estimate: u32,
    pub explanation: String,
}

pub(super) fn evaluate(rule: &Rule, cx: &Context<'_>) -> Outcome {
    match rule {
        Rule::Capacity { per_dyno } => capacity(*per_dyno, cx),
        Rule::Consecutive(r) => consecutive(r, cx),
        Rule::Average(r) => average(r, cx),
        Rule::Trend(r) => trend(r, cx),
        Rule::Target(r) => target(r, cx),
    }
}

fn capacity(per_dyno: f64, cx: &Context<'_>) -> Outcome {
    let from = window_start(cx.now, cx.hysteresis);
    let peak = cx
        .samples
        .iter()
        .filter(|s| s.at >= from)
        .map(|s| s.value)
        .fold(cx.newest().value, f64::max);
    let estimate = if per_dyno > 0.0 {
        ceil_count(peak / per_dyno)
    } else {
        0
    };
    Outcome {
        value: peak,
        estimate,
        explanation: format!(
            "capacity: max {} over {} / {} per dyno = {estimate}",
            num(peak),
            secs(cx.hysteresis),
            num(per_dyno)
        ),
    }
}

fn consecutive(r: &ConsecutiveRule, cx: &Context<'_>) -> Outcome {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Slow,
        Fast,
        Neither,
    }
    let class = |v: f64| {
        if v > r.max {
            Class::Slow
        } else if v < r.min {
            Class::Fast
        } else {
            Class::Neither
        }
    };
    let samples = cx.since_scale();
    let newest = cx.newest();
    let hold = |explanation: String| Outcome {
        value: newest.value,
        estimate: cx.current,
        explanation,
    };
    let Some(last) = samples.last() else {
        return hold("consecutive: no sample since the last scale → hold".to_string());
    };
    let kind = class(last.value);
    let mut streak = 1u32;
    for pair in samples.windows(2).rev() {
        if class(pair[0].value) != kind || pair[1].at - pair[0].at > cx.stale_after {
            break;
        }
        streak += 1;
    }
    let inc = r.increment;
    match kind {
        Class::Slow if streak >= r.fails_to_scale_up => Outcome {
            value: last.value,
            estimate: cx.current.saturating_add(inc),
            explanation: format!(
                "consecutive: {streak} slow samples in a row (> {} ms) → +{inc}",
                num(r.max)
            ),
        },
        Class::Fast if streak >= r.passes_to_scale_down => Outcome {
            value: last.value,
            estimate: cx.current.saturating_sub(inc),
            explanation: format!(
                "consecutive: {streak} fast samples in a row (< {} ms) → -{inc}",
                num(r.min)
            ),
        },
        Class::Slow => hold(format!(
            "consecutive: {streak} slow sample(s) in a row (> {} ms), {} needed → hold",
            num(r.max),
            r.fails_to_scale_up
        )),
        Class::Fast => hold(format!(
            "consecutive: {streak} fast sample(s) in a row (< {} ms), {} needed → hold",
            num(r.min),
            r.passes_to_scale_down
        )),
        Class::Neither => hold(format!(
            "consecutive: newest {} ms within {}..{} → hold",
            num(last.value),
            num(r.min),
            num(r.max)
        )),
    }
}

fn average(r: &AverageRule, cx: &Context<'_>) -> Outcome {
    let samples = cx.since_scale();
    let wanted = r.samples as usize;
    if samples.len() < wanted {
        return Outcome {
            value: cx.newest().value,
            estimate: cx.current,
            explanation: format!(
                "average: {} sample(s){}, {wanted} needed → hold",
                samples.len(),
                cx.since_note()
            ),
        };
    }
    // The newest `samples`, not the oldest as autoscalebot 3.0's code had it.
    let newest = &samples[samples.len() - wanted..];
    let mean = newest.iter().map(|s| s.value).sum::<f64>() / wanted as f64;
    let inc = r.increment;
    let (estimate, verdict) = if mean > r.max {
        (
            cx.current.saturating_add(inc),
            format!("> {} ms → +{inc}", num(r.max)),
        )
    } else if mean < r.min {
        (
            cx.current.saturating_sub(inc),
            format!("< {} ms → -{inc}", num(r.min)),
        )
    } else {
        (
            cx.current,
            format!("within {}..{} → hold", num(r.min), num(r.max)),
        )
    };
    Outcome {
        value: mean,
        estimate,
        explanation: format!(
            "average: mean {} ms of newest {wanted} {verdict}",
            num(mean)
        ),
    }
}

fn trend(r: &TrendRule, cx: &Context<'_>) -> Outcome {
    let from = window_start(cx.now, r.window);
    let samples: Vec<Sample> = cx
        .since_scale()
        .iter()
        .filter(|s| s.at >= from)
        .copied()
        .collect();
    if samples.len() < TREND_MIN_SAMPLES {
        return Outcome {
            value: cx.newest().value,
            estimate: cx.current,
            explanation: format!(
                "trend: {} sample(s) within {}{}, {TREND_MIN_SAMPLES} needed → hold",
                samples.len(),
                secs(r.window),
                cx.since_note()
            ),
        };
    }
    let mean = samples.iter().map(|s| s.value).sum::<f64>() / samples.len() as f64;
    let slope = slope_per_minute(&samples);
    let up = cx.current.saturating_add(r.increment);
    let down = cx.current.saturating_sub(r.increment);
    let (estimate, text) = if mean > r.high {
        (
            up,
            format!("mean {} ms > high {} → up", num(mean), num(r.high)),
        )
    } else if mean < r.low {
        if slope > 0.0 {
            (
                cx.current,
                format!(
                    "mean {} ms < low {} but rising (slope {} ms/min) → hold",
                    num(mean),
                    num(r.low),
                    signed(slope)
                ),
            )
        } else {
            (
                down,
                format!(
                    "mean {} ms < low {}, slope {} ms/min not rising → down",
                    num(mean),
                    num(r.low),
                    signed(slope)
                ),
            )
        }
    } else {
        let band = format!(
            "mean {} ms in band {}..{}, slope {} ms/min",
            num(mean),
            num(r.low),
            num(r.high),
            signed(slope)
        );
        if slope > r.trend_high {
            (up, format!("{band} > {} → up", num(r.trend_high)))
        } else if slope < r.trend_low {
            (down, format!("{band} < {} → down", num(r.trend_low)))
        } else {
            (
                cx.current,
                format!(
                    "{band} within {}..{} → hold",
                    num(r.trend_low),
                    num(r.trend_high)
                ),
            )
        }
    };
    Outcome {
        value: mean,
        estimate,
        explanation: format!("trend: {text}"),
    }
}

/// Least-squares slope of value over time, in value units per minute.
fn slope_per_minute(samples: &[Sample]) -> f64 {
    let Some(first) = samples.first() else {
        return 0.0;
    };
    let n = samples.len() as f64;
    let xs: Vec<f64> = samples
        .iter()
        .map(|s| (s.at - first.at).num_milliseconds() as f64 / 60_000.0)
        .collect();
    let mean_x = xs.iter().sum::<f64>() / n;
    let mean_y = samples.iter().map(|s| s.value).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, s) in xs.iter().zip(samples) {
        sxy += (x - mean_x) * (s.value - mean_y);
        sxx += (x - mean_x) * (x - mean_x);
    }
    if sxx > 0.0 {
        sxy / sxx
    } else {
        0.0
    }
}

fn target(r: &TargetRule, cx: &Context<'_>) -> Outcome {
    let newest = cx.newest().value;
    let (want_newest, text_newest) = target_for(r, cx.current, newest);
    if want_newest >= cx.current {
        return Outcome {
            value: newest,
            estimate: want_newest,
            explanation: format!("target: {text_newest}"),
        };
    }
    // Going down: no lower than the highest recent sample (measured at the
    // current size) asks for, as HPA's downscale stabilization window does.
    let from = window_start(cx.now, cx.hysteresis);
    let peak = cx
        .since_scale()
        .iter()
        .filter(|s| s.at >= from)
        .map(|s| s.value)
        .fold(newest, f64::max);
    let (want_peak, text_peak) = target_for(r, cx.current, peak);
    let estimate = want_peak.min(cx.current).max(want_newest);
    if estimate == want_newest {
        return Outcome {
            value: newest,
            estimate,
            explanation: format!("target: {text_newest}"),
        };
    }
    // A peak asking for more than the current count holds it (no scale-up on
    // a past spike: HPA's scale-up follows the newest value).
    let holding = if want_peak > cx.current {
        format!("; holding {}", cx.current)
    } else {
        String::new()
    };
    Outcome {
        value: peak,
        estimate,
        explanation: format!(
            "target: {text_newest}, but peak {} within {}: {text_peak}{holding}",
            num(peak),
            secs(cx.hysteresis)
        ),
    }
}

/// HPA's formula for one value, with its dead band.
fn target_for(r: &TargetRule, current: u32, value: f64) -> (u32, String) {
    let tol = num(r.tolerance);
    match r.per {
        Per::Dyno => {
            // A formation at 0 would stay at 0 forever (0 × anything = 0).
            let base = current.max(1);
            let base_text = if current == 0 {
                "1 (for 0 dynos)".to_string()
            } else {
                base.to_string()
            };
            let ratio = value / r.target;
            if (ratio - 1.0).abs() <= r.tolerance {
                return (
                    base,
                    format!(
                        "{}/{} = {} within tolerance {tol} → hold {base}",
                        num(value),
                        num(r.target),
                        num(ratio)
                    ),
                );
            }
            let raw = f64::from(base) * ratio;
            let want = ceil_count(raw);
            (
                want,
                format!(
                    "{base_text} × {}/{} = {} → {want}",
                    num(value),
                    num(r.target),
                    num(raw)
                ),
            )
        }
        Per::Total => {
            let raw = value / r.target;
            let want = ceil_count(raw);
            if current > 0 && (raw / f64::from(current) - 1.0).abs() <= r.tolerance {
                return (
                    current,
                    format!(
                        "{} total / {} per dyno = {}, within tolerance {tol} of {current} → hold {current}",
                        num(value),
                        num(r.target),
                        num(raw)
                    ),
                );
            }
            (
                want,
                format!(
                    "{} total / {} per dyno = {} → {want}",
                    num(value),
                    num(r.target),
                    num(raw)
                ),
            )
        }
    }
}

/// `now - length`, saturating: an absurd window means "all samples", not a panic.
fn window_start(now: DateTime<Utc>, length: TimeDelta) -> DateTime<Utc> {
    now.checked_sub_signed(length)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `ceil(x)` as a dyno count: negative or NaN load reads as none, absurd values
/// saturate instead of wrapping, and float noise (2.0000000001) is not a dyno.
fn ceil_count(x: f64) -> u32 {
    if x.is_nan() || x <= 0.0 {
        return 0;
    }
    let dynos = (x - 1e-9).ceil();
    if dynos >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        dynos.max(0.0) as u32
    }
}

/// Seconds as a compact human string (`5m`, `1h 30m`).
pub(super) fn secs(d: TimeDelta) -> String {
    let s = d.num_seconds().max(0) as u64;
    humantime::format_duration(std::time::Duration::from_secs(s)).to_string()
}

/// A duration for people, rounded: whole seconds from a minute up (`2m 5s`),
/// else milliseconds (`9s 999ms`, `250ms`), never the `862ns` tail of a
/// deadline computed from a clock.
pub fn duration_text(d: std::time::Duration) -> String {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2);
    let rounded = if ms >= 60_000 {
        std::time::Duration::from_secs((ms + 500) / 1000)
    } else {
        std::time::Duration::from_millis(ms)
    };
    humantime::format_duration(rounded).to_string()
}

/// A number without trailing zeros (`742`, `2.6`, `0.15`); from 10^15 up in
/// scientific notation (`1.798e308`), never hundreds of digits.
pub fn num(v: f64) -> String {
    if v.is_finite() && v.abs() >= 1e15 {
        let s = format!("{v:.3e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        format!("{mantissa}e{exponent}")
    } else if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// A number with its sign (`+35`, `-3.5`).
fn signed(v: f64) -> String {
    if v >= 0.0 {
        format!("+{}", num(v))
    } else {
        num(v)
    }
}

#[cfg(test)]
mod number_tests {
    use super::num;

    #[test]
    fn extreme_numbers_are_compact() {
        assert_eq!(num(f64::MAX), "1.798e308");
        assert_eq!(num(-1e20), "-1e20");
        assert_eq!(num(742.0), "742");
        assert_eq!(num(2.6), "2.6");
        assert_eq!(num(999_999_999_999_999.0), "999999999999999");
        assert_eq!(num(f64::INFINITY), "inf");
    }

    #[test]
    fn durations_for_people_are_rounded() {
        use super::duration_text;
        use std::time::Duration;
        let from_a_deadline = Duration::from_nanos(9_999_999_862);
        assert_eq!(duration_text(from_a_deadline), "9s 999ms");
        assert_eq!(duration_text(Duration::from_millis(125_600)), "2m 6s");
        assert_eq!(duration_text(Duration::ZERO), "0s");
    }
}
