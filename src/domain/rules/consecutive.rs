//! `consecutive` (autoscalebot): streaks of slow or fast samples.

use super::*;
use crate::fields::{Fields, KeyDoc};

/// autoscalebot: `fails_to_scale_up` slow samples in a row add `increment`
/// dynos, `passes_to_scale_down` fast samples in a row remove `increment`.
///
/// A sample above `max` is slow, below `min` is fast, anything else breaks
/// both streaks. A failed HTTP probe arrives as a sample equal to its timeout,
/// so it counts as slow, as autoscalebot counted a failed ping. Only samples
/// after the last scale count (the streak restarts after a scale), and two
/// samples further apart than the input's staleness limit are not "in a row".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConsecutiveRule {
    /// Above this (ms for response times) a sample is slow.
    pub max: f64,
    /// Below this a sample is fast.
    pub min: f64,
    pub fails_to_scale_up: u32,
    pub passes_to_scale_down: u32,
    pub increment: u32,
}

/// Slow samples in a row before adding dynos (autoscalebot).
pub const FAILS_TO_SCALE_UP: u32 = 3;
/// Fast samples in a row before removing dynos (autoscalebot).
pub const PASSES_TO_SCALE_DOWN: u32 = 5;

pub(super) const TYPE: RuleType = RuleType {
    name: "consecutive",
    summary: "N slow samples in a row add dynos, M fast ones remove (autoscalebot)",
    keys: &[
        KeyDoc::new("min", None, "below this a sample is fast"),
        KeyDoc::new("max", None, "above this a sample is slow"),
        KeyDoc::new(
            "fails_to_scale_up",
            Some("3"),
            "slow samples in a row before adding dynos",
        ),
        KeyDoc::new(
            "passes_to_scale_down",
            Some("5"),
            "fast samples in a row before removing dynos",
        ),
        INCREMENT_KEY,
    ],
    example: "min = 200\nmax = 1000",
    reads_per_dyno_key: false,
    parse,
};

fn parse(t: &mut Fields, _input: &RuleInput) -> Option<Rule> {
    let band = read_band(t, ("min", None), ("max", None), true);
    let fails = read_count(t, "fails_to_scale_up", FAILS_TO_SCALE_UP);
    let passes = read_count(t, "passes_to_scale_down", PASSES_TO_SCALE_DOWN);
    let increment = read_increment(t);
    let (min, max) = band?;
    Some(Rule::new(ConsecutiveRule {
        max,
        min,
        fails_to_scale_up: fails?,
        passes_to_scale_down: passes?,
        increment: increment?,
    }))
}

impl RuleLogic for ConsecutiveRule {
    fn name(&self) -> &'static str {
        TYPE.name
    }

    fn evaluate(&self, cx: &Context<'_>) -> Outcome {
        consecutive(self, cx)
    }

    fn retention(&self, stale_after: TimeDelta) -> TimeDelta {
        // Streaks may be spaced up to `stale_after` apart and still count.
        polls(
            self.fails_to_scale_up.max(self.passes_to_scale_down),
            stale_after,
        )
    }

    fn settings(&self, _: &'static str) -> Vec<(&'static str, Setting)> {
        vec![
            ("min", Setting::Number(self.min)),
            ("max", Setting::Number(self.max)),
            ("fails_to_scale_up", Setting::Count(self.fails_to_scale_up)),
            (
                "passes_to_scale_down",
                Setting::Count(self.passes_to_scale_down),
            ),
            ("increment", Setting::Count(self.increment)),
        ]
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
