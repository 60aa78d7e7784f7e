//! `target` (Kubernetes HPA): proportional target tracking.

use super::*;
use crate::fields::{Fields, KeyDoc};

/// Whether a `target` input's value is per dyno or the formation's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Per {
    /// Utilisation-like (response time, load per dyno): `ceil(current × value / target)`.
    Dyno,
    /// Total load (requests per minute): `ceil(value / target)`, target being load per dyno.
    Total,
}

impl Per {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dyno => "dyno",
            Self::Total => "total",
        }
    }
}

/// Kubernetes HPA: `desired = ceil(current × value / target)`, held at the
/// current count while `|value / target − 1| <= tolerance` so small wobbles do
/// not scale. Scale-ups follow the newest sample; a scale-down goes no lower
/// than the highest sample within `hysteresis` asks for (HPA's downscale
/// stabilization window; for `per = "dyno"` only samples since the last scale).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TargetRule {
    pub target: f64,
    pub tolerance: f64,
    pub per: Per,
}

/// Dead band around the target, as a fraction (Kubernetes HPA's 0.1).
pub const TOLERANCE: f64 = 0.1;

pub(super) const TYPE: RuleType = RuleType {
    name: "target",
    summary: "keep each input's value at a target, proportionally (Kubernetes HPA)",
    keys: &[
        KeyDoc::new(
            "target",
            None,
            "the value each input should hold (per dyno, or per dyno of the total)",
        ),
        KeyDoc::new(
            "tolerance",
            Some("0.1"),
            "dead band around the target, as a fraction (0 to < 1)",
        ),
        KeyDoc::new(
            "per",
            Some("\"dyno\""),
            "\"dyno\": the value is per dyno; \"total\": the formation's total",
        ),
    ],
    example: "target = 300",
    reads_per_dyno_key: false,
    parse,
};

fn parse(t: &mut Fields, _input: &RuleInput) -> Option<Rule> {
    let present = t.require(
        "target",
        ": the value you want each input to hold (per dyno, or per dyno of the total)",
    );
    let target = t.opt_positive("target");
    let tolerance = match t.opt_number("tolerance") {
        None => Some(TOLERANCE),
        Some(v) if (0.0..1.0).contains(&v) => Some(v),
        Some(v) => {
            t.error("tolerance", format!("must be >= 0 and < 1, found {v}"));
            None
        }
    };
    let per = match t.opt_str("per").as_deref().unwrap_or("dyno") {
        "dyno" => Some(Per::Dyno),
        "total" => Some(Per::Total),
        other => {
            t.error(
                "per",
                format!("must be \"dyno\" or \"total\", found {other:?}"),
            );
            None
        }
    };
    present.then_some(())?;
    Some(Rule::new(TargetRule {
        target: target?,
        tolerance: tolerance?,
        per: per?,
    }))
}

impl RuleLogic for TargetRule {
    fn name(&self) -> &'static str {
        TYPE.name
    }

    fn evaluate(&self, cx: &Context<'_>) -> Outcome {
        target(self, cx)
    }

    fn settings(&self, _: &'static str) -> Vec<(&'static str, Setting)> {
        vec![
            ("target", Setting::Number(self.target)),
            ("tolerance", Setting::Number(self.tolerance)),
            ("per", Setting::Word(self.per.as_str())),
        ]
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
    // Going down: no lower than the highest recent sample asks for, as HPA's
    // downscale stabilization window does (it keeps the recommendations made
    // after now − window). A total (`per = "total"`) asks for the same count
    // whatever the size it was measured at, so, as in HPA, every sample in the
    // window counts, scale or no scale. A per-dyno value measured before the
    // last scale described a formation of another size: recomputed with the
    // current count it would ask for the wrong number, so only samples since
    // the last scale count (HPA stores the recommendation instead).
    let recent = match r.per {
        Per::Total => cx.samples,
        Per::Dyno => cx.since_scale(),
    };
    let peak = in_hysteresis(recent, cx.now, cx.hysteresis)
        .iter()
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

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::super::test_samples::{at, minutes};
    use super::*;
    use crate::domain::Sample;

    fn evaluate(per: Per, samples: &[Sample], last_scale: Option<u32>, now: u32) -> Outcome {
        TargetRule {
            target: 100.0,
            tolerance: 0.1,
            per,
        }
        .evaluate(&Context {
            samples,
            current: 8,
            last_scale: last_scale.map(at),
            hysteresis: TimeDelta::seconds(300),
            stale_after: TimeDelta::seconds(120),
            now: at(now),
        })
    }

    #[test]
    fn a_total_keeps_samples_taken_before_the_last_scale_in_the_stabilisation_window() {
        // GIVEN a total of 700 at 12:01, a scale (from 6 to 8) at 12:02, then 200
        let samples = minutes(&[200.0, 700.0, 200.0, 200.0, 200.0]);
        // WHEN deciding at 12:04 at 8 dynos: the newest asks for 2
        let total = evaluate(Per::Total, &samples, Some(2), 4);
        // THEN, as HPA, the 700 (3 minutes old, before the scale) still holds 7.
        assert_eq!(total.value, 700.0);
        assert_eq!(total.estimate, 7);
        // A per-dyno value from before the scale measured 6 dynos: ignored.
        let per_dyno = evaluate(Per::Dyno, &samples, Some(2), 4);
        assert_eq!(per_dyno.value, 200.0);
    }

    #[test]
    fn the_stabilisation_window_is_half_open() {
        // 700 at 12:00, then 200: at 12:05 the 700 is exactly 300 s old and out.
        let samples = minutes(&[700.0, 200.0, 200.0, 200.0, 200.0, 200.0]);
        let outcome = evaluate(Per::Total, &samples, None, 5);
        assert_eq!(outcome.estimate, 2);
        let earlier = evaluate(Per::Total, &samples[..5], None, 4);
        assert_eq!(earlier.estimate, 7);
    }
}
