//! Read each formation's recorded history for the page (the only I/O here).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::FormationConfig;
use crate::history::{read_minutes, HistoryStore};
use crate::store::tuning::{tuning_key, TuningRecord};
use crate::store::StateStore;

use super::build::{history_view, Extras};
use super::view::{FrontierPoint, FrontierView};

/// How far back the page reads: its longest chart, the 7-day view.
pub const PAGE_SPAN: TimeDelta = TimeDelta::days(7);

/// The recorded history of each formation over the last [`PAGE_SPAN`], and
/// its newest tuning result (the record `app#type#tuning`), keyed by
/// formation name. A formation whose history cannot be read, or has none yet,
/// has no history here: its charts then show what its state keeps (the read
/// error is logged, never shown on the page); one never tuned has no frontier.
pub async fn recorded_extras(
    formations: &[FormationConfig],
    history: &dyn HistoryStore,
    state: &dyn StateStore,
    now: DateTime<Utc>,
) -> BTreeMap<String, Extras> {
    let mut extras = BTreeMap::new();
    for f in formations {
        let history = match read_minutes(history, state, &f.key(), now - PAGE_SPAN, now).await {
            Ok(records) if !records.is_empty() => Some(history_view(f, &records)),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(formation = %f.name, error = %e, "status page: history not read");
                None
            }
        };
        let frontier = match state.load(&tuning_key(&f.key())).await {
            Ok(stored) => stored
                .and_then(|v| v.value.tuning)
                .map(|r| frontier_view(&r)),
            Err(e) => {
                tracing::warn!(formation = %f.name, error = %e, "status page: tuning not read");
                None
            }
        };
        if history.is_some() || frontier.is_some() {
            extras.insert(f.name.clone(), Extras { history, frontier });
        }
    }
    extras
}

/// The page's frontier from a stored tuning result: its points, the current
/// config's point and the suggested (chosen) one.
pub fn frontier_view(record: &TuningRecord) -> FrontierView {
    let point = |label: String, s: &crate::store::tuning::Score| FrontierPoint {
        label,
        cost: s.cost_vs_oracle,
        under_pct: s.under_provisioned_pct,
    };
    FrontierView {
        ran_at: Some(record.at),
        points: record
            .frontier
            .iter()
            .map(|p| point(p.candidate.label(), &p.score))
            .collect(),
        current: record
            .current
            .as_ref()
            .map(|s| point("the config's rule".to_string(), s)),
        suggested: record
            .chosen
            .as_ref()
            .map(|p| point(p.candidate.label(), &p.score)),
    }
}
