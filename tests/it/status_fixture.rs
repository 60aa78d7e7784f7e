//! Fixture histories for the status page: a daily load curve, dynos that
//! follow it a few minutes late, each change a scale with its reason. Shared
//! by the integration tests and the status-page benchmark (`#[path]`).

use chrono::{DateTime, TimeDelta, Utc};
use dynopilot::status_page::{HistoryMinute, HistoryView, ScaleMark};

/// `days` of per-minute history ending at `now` for an input named `input`
/// with `per_dyno` load units per dyno, the daily wave shifted by `phase`
/// (a fraction of a day). Deterministic. One hour (5 to 4 hours before `now`)
/// has no data, as when the function did not run.
pub fn history(
    now: DateTime<Utc>,
    days: i64,
    input: &str,
    per_dyno: f64,
    phase: f64,
) -> HistoryView {
    let minutes = days * 24 * 60;
    let start = now - TimeDelta::minutes(minutes);
    let gap = (minutes - 300)..(minutes - 240);
    let mut out = Vec::with_capacity(minutes as usize);
    let mut scales = Vec::new();
    let mut quantity: u32 = 2;
    let mut since_scale = 0;
    for i in 0..minutes {
        let at = start + TimeDelta::minutes(i);
        if gap.contains(&i) {
            continue;
        }
        let day = (i % 1440) as f64 / 1440.0;
        let wave = (std::f64::consts::TAU * (day + phase)).sin();
        let jitter = ((i * 7919) % 97) as f64 / 97.0 - 0.5;
        let load = (per_dyno * (4.0 + 3.0 * wave) + per_dyno * 0.3 * jitter).max(0.0);
        let target = ((load / per_dyno).ceil() as u32).clamp(1, 10);
        since_scale += 1;
        // Up after 3 minutes, down after a 30-minute cool-off.
        let settled = if target > quantity { 3 } else { 30 };
        if target != quantity && since_scale >= settled {
            let (code, text) = if target > quantity {
                (
                    "load_above",
                    format!("{input} needs {target} dynos at {load:.0}/min"),
                )
            } else {
                (
                    "load_below",
                    format!("{input} fell to {load:.0}/min for 5 min"),
                )
            };
            scales.push(ScaleMark {
                at,
                from: quantity,
                to: target,
                reason: format!("{code}: {text}"),
            });
            quantity = target;
            since_scale = 0;
        }
        out.push(HistoryMinute {
            at,
            load: Some(load),
            capacity: Some(f64::from(quantity) * per_dyno),
            target: Some(target),
            quantity: Some(quantity),
        });
    }
    HistoryView {
        load_input: Some(input.to_string()),
        per_dyno: Some(per_dyno),
        minutes: out,
        scales,
        source: "fixture history".to_string(),
    }
}
