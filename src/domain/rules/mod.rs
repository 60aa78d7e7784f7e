//! Step 1 of `decide`: one input's samples → its dyno estimate, per rule; and
//! the rule registry.
//!
//! Every rule answers with a dyno count (the estimate) and a sentence that
//! names the rule and its numbers. Relative rules (`consecutive`, `average`,
//! `trend`, `target`) answer relative to the current count; holding means
//! estimating exactly the current count. What follows (max over inputs,
//! fail-safe, bounds, cool-offs, step limits) is the same for every rule.
//!
//! # Adding a rule
//! Write one file here with the rule's settings (a struct), its behaviour
//! ([`RuleLogic`]) and its config row (a [`RuleType`]: name, keys with their
//! defaults, parse), then add that row to [`RULES`]. Nothing else names rules:
//! the config reader, `check-config`, the docs test and the simulator all go
//! through the registry. Parsing reads a TOML table through the leaf
//! [`crate::fields`] walker; it is pure like the rest of the domain.

mod average;
mod capacity;
mod consecutive;
mod target;
mod trend;

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::Sample;
use crate::fields::{format_duration, Fields, KeyDoc};

pub use average::AverageRule;
pub use capacity::CapacityRule;
pub use consecutive::ConsecutiveRule;
pub use target::{Per, TargetRule};
pub use trend::{TrendRule, TREND_MIN_SAMPLES};

/// The registry: one row per rule, keyed on the input's `rule` value.
pub const RULES: &[RuleType] = &[
    capacity::TYPE,
    consecutive::TYPE,
    average::TYPE,
    trend::TYPE,
    target::TYPE,
];

/// The rule an input uses when it names none (Dynosaur's).
pub const DEFAULT_RULE: &str = "capacity";

/// Look a rule up by its config name.
pub fn rule_type(name: &str) -> Option<&'static RuleType> {
    RULES.iter().find(|r| r.name == name)
}

/// The rules' names, for error texts ("capacity, consecutive, ...").
pub fn rule_names() -> String {
    RULES.iter().map(|r| r.name).collect::<Vec<_>>().join(", ")
}

/// What a rule's parser may need to know about its input.
#[derive(Debug, Clone, Copy)]
pub struct RuleInput {
    /// The input type's key for load per dyno (`rpm_per_dyno`, `per_dyno`, ...).
    pub per_dyno_key: &'static str,
    /// Its default, where the predecessors had one.
    pub default_per_dyno: Option<f64>,
    /// How often the input is polled.
    pub interval: TimeDelta,
}

/// One registry row.
pub struct RuleType {
    /// The input's `rule` value.
    pub name: &'static str,
    /// One line for the docs.
    pub summary: &'static str,
    /// The keys it reads from the input's table.
    pub keys: &'static [KeyDoc],
    /// Its required keys with sample values (TOML lines), for the docs and the
    /// docs test (`capacity`'s one key is the input type's).
    pub example: &'static str,
    /// Whether it also reads the input type's per-dyno key (`capacity`).
    pub reads_per_dyno_key: bool,
    /// Reads its keys (errors go to the walker, with their field paths).
    pub parse: fn(&mut Fields, &RuleInput) -> Option<Rule>,
}

/// One setting of a rule, for `check-config` and equality.
#[derive(Debug, Clone, PartialEq)]
pub enum Setting {
    Number(f64),
    Count(u32),
    Duration(TimeDelta),
    Word(&'static str),
}

impl Setting {
    /// As `check-config` shows it: numbers as numbers, durations as `"5m"`.
    pub fn json(&self) -> serde_json::Value {
        match self {
            Self::Number(v) => serde_json::json!(v),
            Self::Count(n) => serde_json::json!(n),
            Self::Duration(d) => serde_json::json!(format_duration(*d)),
            Self::Word(w) => serde_json::json!(w),
        }
    }

    /// As a user writes it in TOML: `150`, `0.1`, `"30m"`, `"dyno"`.
    pub fn toml(&self) -> String {
        match self {
            Self::Number(v) => format!("{v}"),
            Self::Count(n) => n.to_string(),
            Self::Duration(d) => format!("{:?}", format_duration(*d)),
            Self::Word(w) => format!("{w:?}"),
        }
    }
}

/// Lets [`Rule::downcast`] reach a rule's settings struct; every type has it.
pub trait AsAny {
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A rule's behaviour. Implemented once per rule file.
pub trait RuleLogic: AsAny + Debug + Send + Sync + 'static {
    /// The config name (the registry row's `name`).
    fn name(&self) -> &'static str;
    /// The estimate for one input's samples.
    fn evaluate(&self, cx: &Context<'_>) -> Outcome;
    /// How much stored history the rule reads, given how far apart polls may
    /// be (`stale_after`). Default: none beyond the hysteresis window.
    fn retention(&self, _stale_after: TimeDelta) -> TimeDelta {
        TimeDelta::zero()
    }
    /// Its settings by config key, in the registry's key order.
    fn settings(&self, per_dyno_key: &'static str) -> Vec<(&'static str, Setting)>;
}

/// A decision rule for one input: each predecessor's, plus Kubernetes' HPA.
#[derive(Clone)]
pub struct Rule(Arc<dyn RuleLogic>);

impl Rule {
    pub fn new(logic: impl RuleLogic) -> Self {
        Self(Arc::new(logic))
    }

    /// The config's `rule` value.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The rule's settings struct, if it is of type `T`.
    pub fn downcast<T: RuleLogic>(&self) -> Option<&T> {
        // Through the trait object: `Arc` itself is `Any` too.
        self.0.as_ref().as_any().downcast_ref::<T>()
    }

    /// Its settings by config key (`capacity` reports `per_dyno_key`).
    pub fn settings(&self, per_dyno_key: &'static str) -> Vec<(&'static str, Setting)> {
        self.0.settings(per_dyno_key)
    }

    /// See [`RuleLogic::retention`].
    pub fn retention(&self, stale_after: TimeDelta) -> TimeDelta {
        self.0.retention(stale_after)
    }

    pub(super) fn evaluate(&self, cx: &Context<'_>) -> Outcome {
        self.0.evaluate(cx)
    }
}

impl PartialEq for Rule {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name() && self.settings("per_dyno") == other.settings("per_dyno")
    }
}

impl Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Debug::fmt(&self.0, f)
    }
}

/// What a rule may look at. `samples` are finite, oldest first, none after
/// `now`, and the newest is fresh (the caller checked).
pub struct Context<'a> {
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
pub struct Outcome {
    /// The value the rule decided on (window max, mean, newest, ...).
    pub value: f64,
    pub estimate: u32,
    pub explanation: String,
}

/// Largest sample count a rule may ask for (4 hours of one-minute polls):
/// every sample is stored between invocations, and the state item is bounded.
pub const MAX_RULE_SAMPLES: u32 = 240;

/// Dynos added or removed per decision, when a rule adds or removes a step
/// (`consecutive`, `average`, `trend`).
pub const INCREMENT: u32 = 1;

/// The `increment` key those rules share.
const INCREMENT_KEY: KeyDoc = KeyDoc::new(
    "increment",
    Some("1"),
    "dynos added or removed per decision",
);

/// `increment`: a count, default [`INCREMENT`].
fn read_increment(t: &mut Fields) -> Option<u32> {
    read_count(t, "increment", INCREMENT)
}

/// `n` polls' worth of history, spaced up to `stale_after` apart.
fn polls(n: u32, stale_after: TimeDelta) -> TimeDelta {
    i32::try_from(n)
        .ok()
        .and_then(|n| stale_after.checked_mul(n))
        .unwrap_or(super::MAX_RETENTION)
}

/// A `low < high` pair of thresholds; `positive` refuses values <= 0.
/// An inverted or empty band is reported at the low key.
fn read_band(
    t: &mut Fields,
    (low_key, low_default): (&str, Option<f64>),
    (high_key, high_default): (&str, Option<f64>),
    positive: bool,
) -> Option<(f64, f64)> {
    let read = |t: &mut Fields, key: &str, default: Option<f64>| {
        let present = t.has(key);
        let v = if positive {
            t.opt_positive(key)
        } else {
            t.opt_number(key)
        };
        match (v, present, default) {
            (Some(v), _, _) => Some(v),
            (None, false, Some(d)) => Some(d),
            (None, false, None) => {
                t.error(key, "is required");
                None
            }
            (None, true, _) => None,
        }
    };
    let low = read(t, low_key, low_default);
    let high = read(t, high_key, high_default);
    let (low, high) = (low?, high?);
    if low >= high {
        t.error(
            low_key,
            format!(
                "{low_key} ({low}) must be below {high_key} ({high}): the band is inverted or empty"
            ),
        );
        return None;
    }
    Some((low, high))
}

/// A rule's count: >= 1 and at most [`MAX_RULE_SAMPLES`].
fn read_count(t: &mut Fields, key: &str, default: u32) -> Option<u32> {
    if let Some(i) = t.peek(key).and_then(toml::Value::as_integer) {
        if i < 1 {
            t.reject(key, format!("must be >= 1, found {i}"));
            return None;
        }
    }
    let present = t.has(key);
    match t.opt_count(key) {
        Some(0) => {
            t.error(key, "must be >= 1");
            None
        }
        Some(n) if n > MAX_RULE_SAMPLES => {
            t.error(
                key,
                format!(
                    "must be at most {MAX_RULE_SAMPLES} (every sample is stored between runs), found {n}"
                ),
            );
            None
        }
        Some(n) => Some(n),
        None if present => None,
        None => Some(default),
    }
}

/// `now - length`, saturating: an absurd window means "all samples", not a panic.
pub(super) fn window_start(now: DateTime<Utc>, length: TimeDelta) -> DateTime<Utc> {
    now.checked_sub_signed(length)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// The samples of the `hysteresis` window: taken in `(now - length, now]`,
/// half-open, so a window of `length` holds `length / interval` polls (5 for
/// 5 minutes of one-minute polls, as Dynosaur's ring buffer of
/// `hysteresis_period / interval` values and HPA's "recommendations after
/// now − window" hold), not one more.
pub(super) fn in_hysteresis(
    samples: &[Sample],
    now: DateTime<Utc>,
    length: TimeDelta,
) -> &[Sample] {
    let from = window_start(now, length);
    let first = samples.partition_point(|s| s.at <= from);
    &samples[first..]
}

/// `ceil(x)` as a dyno count: negative or NaN load reads as none, absurd values
/// saturate instead of wrapping, and float noise (2.0000000001) is not a dyno.
pub(super) fn ceil_count(x: f64) -> u32 {
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
pub(crate) fn secs(d: TimeDelta) -> String {
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
pub(super) fn signed(v: f64) -> String {
    if v >= 0.0 {
        format!("+{}", num(v))
    } else {
        num(v)
    }
}

/// Samples one a minute from 12:00, for the rules' tests.
#[cfg(test)]
mod test_samples {
    use chrono::{DateTime, TimeZone, Utc};

    use crate::domain::Sample;

    /// 2026-11-30 12:mm.
    pub fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, minute, 0).unwrap()
    }

    /// One sample a minute, 12:00 first.
    pub fn minutes(values: &[f64]) -> Vec<Sample> {
        (0u32..)
            .zip(values)
            .map(|(m, &value)| Sample { at: at(m), value })
            .collect()
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
