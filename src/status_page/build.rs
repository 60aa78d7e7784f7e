//! Fill a [`StatusView`] from the config and what [`crate::engine::status`] read.

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};

use crate::config::FormationConfig;
use crate::domain::CapacityRule;
use crate::engine::FormationStatus;
use crate::store::minutes::MinuteRecord;

use super::view::{
    FormationView, FrontierView, HistoryMinute, HistoryView, InputView, ScaleMark, StatusView,
};

/// Extra data per formation name, when there is some: recorded per-minute
/// history and the tuning frontier.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    pub history: Option<HistoryView>,
    pub frontier: Option<FrontierView>,
}

/// The page's data. `statuses` are [`crate::engine::status`]'s answer for
/// `formations` (same order, matched by name); `extras` are keyed by formation
/// name. Without recorded history the charts show what the state keeps: the
/// stored window's samples, the recent decisions and scale events.
pub fn build_view(
    formations: &[FormationConfig],
    statuses: &[FormationStatus],
    extras: &BTreeMap<String, Extras>,
    now: DateTime<Utc>,
    dry_run: bool,
) -> StatusView {
    let formations = formations
        .iter()
        .filter_map(|f| {
            let s = statuses.iter().find(|s| s.name == f.name)?;
            let extra = extras.get(&f.name).cloned().unwrap_or_default();
            Some(formation_view(f, s, extra, now))
        })
        .collect();
    StatusView {
        now,
        dry_run,
        formations,
    }
}

/// The input drawn as load: the first with the `capacity` rule (its values
/// are load, its setting places the dyno axis), else the first.
pub fn load_input(f: &FormationConfig) -> Option<(String, Option<f64>)> {
    f.policy
        .inputs
        .iter()
        .find_map(|i| {
            i.rule
                .downcast::<CapacityRule>()
                .map(|c| (i.name.clone(), Some(c.per_dyno)))
        })
        .or_else(|| f.policy.inputs.first().map(|i| (i.name.clone(), None)))
}

fn formation_view(
    f: &FormationConfig,
    s: &FormationStatus,
    extra: Extras,
    now: DateTime<Utc>,
) -> FormationView {
    let inputs = f
        .inputs
        .iter()
        .zip(&f.policy.inputs)
        .map(|(i, p)| {
            let w = s.window.inputs.get(&i.name);
            InputView {
                name: i.name.clone(),
                type_name: i.type_name.to_string(),
                rule: p.rule.name().to_string(),
                last: w.and_then(|w| w.latest().copied()),
                last_poll: w.and_then(|w| w.last_poll),
                failing_since: w.and_then(|w| w.failing_since),
                error: w.and_then(|w| w.last_error.clone()),
            }
        })
        .collect();
    let history = match extra.history {
        Some(mut recorded) => {
            // The recorded minutes keep a reason code; the state's recent
            // decisions still have the words.
            for mark in &mut recorded.scales {
                if let Some(words) = decision_reason(s, mark.at, mark.to) {
                    mark.reason = words;
                }
            }
            recorded
        }
        None => history_from_state(f, s, now),
    };
    FormationView {
        name: f.name.clone(),
        app: f.app.clone(),
        process_type: f.process_type.clone(),
        current: s.current.map(|c| (c.quantity, c.at)),
        min_now: f.policy.min.resolve(now).to_string(),
        max_now: f.policy.max.resolve(now).to_string(),
        paused_until: s.paused_until.filter(|u| *u > now),
        pending: s.pending.clone(),
        decisions: s.last_decisions.clone(),
        episodes: s.episodes.iter().map(|(k, m)| (k.clone(), *m)).collect(),
        inputs,
        history,
        frontier: extra.frontier,
        error: s.error.clone(),
    }
}

/// The words of the applied decision that scaled to `to` within a minute of
/// `at`, while the state still keeps it.
fn decision_reason(s: &FormationStatus, at: DateTime<Utc>, to: u32) -> Option<String> {
    s.last_decisions
        .iter()
        .rev()
        .find(|d| d.applied && d.target == to && (d.at - at).num_seconds().abs() < 60)
        .map(|d| format!("{}: {}", d.reason.code.as_str(), d.reason.text))
}

/// What the stored state alone can chart: the load input's window samples,
/// the counts and targets of the recent decisions, the stored scale events
/// (with the reason of the decision that made them, when it is still kept).
fn history_from_state(f: &FormationConfig, s: &FormationStatus, now: DateTime<Utc>) -> HistoryView {
    let (load_input, per_dyno) = load_input(f).map_or((None, None), |(n, p)| (Some(n), p));
    let mut minutes: BTreeMap<DateTime<Utc>, HistoryMinute> = BTreeMap::new();
    fn slot(
        minutes: &mut BTreeMap<DateTime<Utc>, HistoryMinute>,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Option<&mut HistoryMinute> {
        let at = at.with_second(0).and_then(|t| t.with_nanosecond(0))?;
        (at <= now).then(|| {
            minutes.entry(at).or_insert(HistoryMinute {
                at,
                ..HistoryMinute::default()
            })
        })
    }
    if let Some(w) = load_input.as_ref().and_then(|n| s.window.inputs.get(n)) {
        for sample in &w.samples {
            if let Some(m) = slot(&mut minutes, sample.at, now) {
                m.load = Some(sample.value);
            }
        }
    }
    for d in &s.last_decisions {
        if let Some(m) = slot(&mut minutes, d.at, now) {
            let quantity = if d.applied { d.target } else { d.current };
            m.target = Some(d.target);
            m.quantity = Some(quantity);
            m.capacity = per_dyno.map(|p| f64::from(quantity) * p);
        }
    }
    let scales = s
        .last_scales
        .iter()
        .map(|e| {
            let reason = decision_reason(s, e.at, e.to)
                .unwrap_or_else(|| "reason no longer kept".to_string());
            ScaleMark {
                at: e.at,
                from: e.from,
                to: e.to,
                reason,
            }
        })
        .collect();
    HistoryView {
        load_input,
        per_dyno,
        minutes: minutes.into_values().collect(),
        scales,
        source: "stored state only (the recent window, decisions and scales)".to_string(),
    }
}

/// The charts' history from recorded minutes ([`crate::history::read_minutes`]),
/// oldest first: the load input's values, the capacity, target and quantity
/// each run recorded, and each scale with its reason code.
pub fn history_view(f: &FormationConfig, records: &[MinuteRecord]) -> HistoryView {
    let (load_input, per_dyno) = load_input(f).map_or((None, None), |(n, p)| (Some(n), p));
    let minutes = records
        .iter()
        .map(|r| HistoryMinute {
            at: r.at,
            load: load_input
                .as_ref()
                .and_then(|n| r.inputs.get(n).copied().flatten()),
            capacity: r.capacity,
            target: r.target,
            quantity: r.quantity,
        })
        .collect();
    let scales = records
        .iter()
        .filter_map(|r| {
            r.scale.as_ref().map(|s| ScaleMark {
                at: r.at,
                from: s.from,
                to: s.to,
                reason: s.code.clone(),
            })
        })
        .collect();
    HistoryView {
        load_input,
        per_dyno,
        minutes,
        scales,
        source: "recorded history (one record per minute)".to_string(),
    }
}
