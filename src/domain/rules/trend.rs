//! `trend` (Swop heroku-autoscale): mean and least-squares slope over a window.

use super::*;
use crate::fields::{Fields, KeyDoc};

/// Swop heroku-autoscale: over the newest `window` of response times,
/// - mean above `high` → up by `increment`;
/// - mean below `low` → down by `increment`, unless the times are rising
///   (slope > 0), then hold;
/// - mean in the band `low..=high` → the least-squares slope (ms per minute)
///   decides: above `trend_high` → up, below `trend_low` → down, else hold.
///
/// Swop's README described the band backwards; the behaviour above is what a
/// response-time autoscaler must do (slow and getting slower means more dynos).
/// Fewer than [`TREND_MIN_SAMPLES`] samples in the window since the last scale
/// hold, since a slope through two points is noise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrendRule {
    pub window: TimeDelta,
    pub high: f64,
    pub low: f64,
    /// Slope (ms per minute) above which a mean inside the band scales up.
    pub trend_high: f64,
    /// Slope (ms per minute) below which a mean inside the band scales down.
    pub trend_low: f64,
    pub increment: u32,
}

/// The fewest samples `trend` decides on.
pub const TREND_MIN_SAMPLES: usize = 3;
/// How far back the mean and the slope look (Swop).
pub const WINDOW: TimeDelta = TimeDelta::seconds(30 * 60);
/// Longest window: every sample in it is stored between runs.
pub const MAX_WINDOW: TimeDelta = TimeDelta::seconds(6 * 3600);
/// Mean response time (ms) above which it scales up.
pub const HIGH: f64 = 1000.0;
/// Mean response time (ms) below which it scales down unless rising.
pub const LOW: f64 = 300.0;
/// Slope (ms per minute) above which a mean inside the band scales up.
pub const SLOPE_HIGH: f64 = 20.0;
/// Slope (ms per minute) below which a mean inside the band scales down.
pub const SLOPE_LOW: f64 = -20.0;

pub(super) const TYPE: RuleType = RuleType {
    name: "trend",
    summary: "mean and slope of response times over a window (Swop heroku-autoscale)",
    keys: &[
        KeyDoc::new(
            "window",
            Some("\"30m\""),
            "how far back the mean and the slope look (at most 6h)",
        ),
        KeyDoc::new(
            "low",
            Some("300"),
            "mean (ms) below which it scales down unless rising",
        ),
        KeyDoc::new("high", Some("1000"), "mean (ms) above which it scales up"),
        KeyDoc::new(
            "trend_low",
            Some("-20"),
            "slope (ms/min) below which a mean in the band scales down",
        ),
        KeyDoc::new(
            "trend_high",
            Some("20"),
            "slope (ms/min) above which a mean in the band scales up",
        ),
        INCREMENT_KEY,
    ],
    example: "",
    reads_per_dyno_key: false,
    parse,
};

fn parse(t: &mut Fields, input: &RuleInput) -> Option<Rule> {
    let interval = input.interval;
    let window = t.duration_or("window", WINDOW);
    let needed = interval
        .checked_mul(TREND_MIN_SAMPLES as i32 - 1)
        .unwrap_or(TimeDelta::MAX);
    let window_ok = if window > MAX_WINDOW {
        t.error(
            "window",
            format!(
                "must be at most {} (every sample in it is stored)",
                format_duration(MAX_WINDOW)
            ),
        );
        false
    } else if window < needed || window <= TimeDelta::zero() {
        t.error(
            "window",
            format!(
                "must hold at least {TREND_MIN_SAMPLES} polls: at least {}s with interval {}s",
                needed.num_seconds().max(1),
                interval.num_seconds()
            ),
        );
        false
    } else {
        true
    };
    let band = read_band(t, ("low", Some(LOW)), ("high", Some(HIGH)), true);
    let slopes = read_band(
        t,
        ("trend_low", Some(SLOPE_LOW)),
        ("trend_high", Some(SLOPE_HIGH)),
        false,
    );
    let increment = read_increment(t);
    let (low, high) = band?;
    let (trend_low, trend_high) = slopes?;
    window_ok.then_some(())?;
    Some(Rule::new(TrendRule {
        window,
        high,
        low,
        trend_high,
        trend_low,
        increment: increment?,
    }))
}

impl RuleLogic for TrendRule {
    fn name(&self) -> &'static str {
        TYPE.name
    }

    fn evaluate(&self, cx: &Context<'_>) -> Outcome {
        trend(self, cx)
    }

    fn retention(&self, _: TimeDelta) -> TimeDelta {
        self.window
    }

    fn settings(&self, _: &'static str) -> Vec<(&'static str, Setting)> {
        vec![
            ("window", Setting::Duration(self.window)),
            ("low", Setting::Number(self.low)),
            ("high", Setting::Number(self.high)),
            ("trend_low", Setting::Number(self.trend_low)),
            ("trend_high", Setting::Number(self.trend_high)),
            ("increment", Setting::Count(self.increment)),
        ]
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
