//! `capacity` (Dynosaur's rule): `ceil(value / per_dyno)` over the
//! hysteresis window's max.

use super::{
    ceil_count, in_hysteresis, num, secs, Context, Outcome, Rule, RuleInput, RuleLogic, RuleType,
    Setting,
};
use crate::fields::Fields;

/// Dynosaur's rule: `ceil(value / per_dyno)`, over the hysteresis window's max.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CapacityRule {
    /// Units of load one dyno serves (e.g. requests per minute).
    pub per_dyno: f64,
}

pub(super) const TYPE: RuleType = RuleType {
    name: "capacity",
    summary: "dynos = ceil(max over the hysteresis window / load per dyno) (Dynosaur)",
    // Its one key is the input type's own (`rpm_per_dyno`, `per_dyno`, ...).
    keys: &[],
    example: "",
    reads_per_dyno_key: true,
    parse,
};

fn parse(t: &mut Fields, input: &RuleInput) -> Option<Rule> {
    let key = input.per_dyno_key;
    let present = t.has(key);
    let per_dyno = t.opt_positive(key);
    let per_dyno = if present {
        per_dyno
    } else {
        input.default_per_dyno
    };
    if per_dyno.is_none() && !present {
        t.error(key, "is required: the load one dyno can serve");
    }
    per_dyno.map(|per_dyno| Rule::new(CapacityRule { per_dyno }))
}

impl RuleLogic for CapacityRule {
    fn name(&self) -> &'static str {
        TYPE.name
    }

    fn evaluate(&self, cx: &Context<'_>) -> Outcome {
        let per_dyno = self.per_dyno;
        let peak = in_hysteresis(cx.samples, cx.now, cx.hysteresis)
            .iter()
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

    fn settings(&self, per_dyno_key: &'static str) -> Vec<(&'static str, Setting)> {
        vec![(per_dyno_key, Setting::Number(self.per_dyno))]
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeDelta, Utc};

    use super::super::test_samples::{at, minutes};
    use super::super::{in_hysteresis, Context};
    use super::*;
    use crate::domain::Sample;

    fn evaluate(samples: &[Sample], now: DateTime<Utc>) -> Outcome {
        CapacityRule { per_dyno: 100.0 }.evaluate(&Context {
            samples,
            current: 9,
            last_scale: None,
            hysteresis: TimeDelta::seconds(300),
            stale_after: TimeDelta::seconds(120),
            now,
        })
    }

    #[test]
    fn a_300_s_window_of_60_s_polls_holds_five_samples_as_dynosaur_did() {
        // Dynosaur's ring buffer held hysteresis_period / interval = 5 values.
        let samples = minutes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        let window = in_hysteresis(&samples, at(6), TimeDelta::seconds(300));
        let held: Vec<f64> = window.iter().map(|s| s.value).collect();
        assert_eq!(held, vec![3.0, 4.0, 5.0, 6.0, 7.0]);
    }

    #[test]
    fn a_peak_exactly_one_window_old_no_longer_counts() {
        // GIVEN 900 at 12:00, then five minutes of 100 (12:01..=12:05)
        let samples = minutes(&[900.0, 100.0, 100.0, 100.0, 100.0, 100.0]);
        // WHEN deciding at 12:05 with a 5-minute window
        let outcome = evaluate(&samples, at(5));
        // THEN the fall has lasted the whole window: 100 / 100 = 1 dyno.
        // (A window closed at both ends held six samples and kept the 900.)
        assert_eq!(outcome.value, 100.0);
        assert_eq!(outcome.estimate, 1);
        // One minute earlier the 900 (4 minutes old) still counts.
        let earlier = evaluate(&samples[..5], at(4));
        assert_eq!(earlier.value, 900.0);
        assert_eq!(earlier.estimate, 9);
    }
}
