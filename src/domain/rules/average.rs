//! `average` (autoscalebot 3.0): the mean of the newest samples.

use super::*;
use crate::fields::{Fields, KeyDoc};

/// autoscalebot 3.0: the mean of the newest `samples` samples above `max` adds
/// `increment` dynos, below `min` removes `increment`; fewer samples than
/// `samples` since the last scale hold.
///
/// autoscalebot 3.0's unfinished code averaged the *oldest* stored samples,
/// which reacts to load that is long gone; this uses the newest. As with
/// `consecutive`, samples taken before the last scale describe a formation that
/// no longer exists and are not counted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AverageRule {
    pub max: f64,
    pub min: f64,
    pub samples: u32,
    pub increment: u32,
}

/// How many of the newest samples are averaged (autoscalebot 3.0).
pub const SAMPLES: u32 = 3;

pub(super) const TYPE: RuleType = RuleType {
    name: "average",
    summary:
        "the mean of the newest samples above max adds dynos, below min removes (autoscalebot 3.0)",
    keys: &[
        KeyDoc::new("min", None, "a mean below this removes dynos"),
        KeyDoc::new("max", None, "a mean above this adds dynos"),
        KeyDoc::new(
            "samples",
            Some("3"),
            "how many of the newest samples are averaged",
        ),
        INCREMENT_KEY,
    ],
    example: "min = 200\nmax = 1000",
    reads_per_dyno_key: false,
    parse,
};

fn parse(t: &mut Fields, _input: &RuleInput) -> Option<Rule> {
    let band = read_band(t, ("min", None), ("max", None), true);
    let samples = read_count(t, "samples", SAMPLES);
    let increment = read_increment(t);
    let (min, max) = band?;
    Some(Rule::new(AverageRule {
        max,
        min,
        samples: samples?,
        increment: increment?,
    }))
}

impl RuleLogic for AverageRule {
    fn name(&self) -> &'static str {
        TYPE.name
    }

    fn evaluate(&self, cx: &Context<'_>) -> Outcome {
        average(self, cx)
    }

    fn retention(&self, stale_after: TimeDelta) -> TimeDelta {
        polls(self.samples, stale_after)
    }

    fn settings(&self, _: &'static str) -> Vec<(&'static str, Setting)> {
        vec![
            ("min", Setting::Number(self.min)),
            ("max", Setting::Number(self.max)),
            ("samples", Setting::Count(self.samples)),
            ("increment", Setting::Count(self.increment)),
        ]
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
