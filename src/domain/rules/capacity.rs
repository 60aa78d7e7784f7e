//! `capacity` (Dynosaur's rule): `ceil(value / per_dyno)` over the
//! hysteresis window's max.

use super::{
    ceil_count, num, secs, window_start, Context, Outcome, Rule, RuleInput, RuleLogic, RuleType,
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

    fn settings(&self, per_dyno_key: &'static str) -> Vec<(&'static str, Setting)> {
        vec![(per_dyno_key, Setting::Number(self.per_dyno))]
    }
}
