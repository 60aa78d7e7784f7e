//! Read each formation's recorded history for the page (the only I/O here).

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::FormationConfig;
use crate::history::{read_minutes, HistoryStore};
use crate::store::StateStore;

use super::build::{history_view, Extras};

/// How far back the page reads: its longest chart, the 7-day view.
pub const PAGE_SPAN: TimeDelta = TimeDelta::days(7);

/// The recorded history of each formation over the last [`PAGE_SPAN`], keyed by
/// formation name. A formation whose history cannot be read, or has none yet,
/// is left out: its charts then show what its state keeps (the read error is
/// logged, never shown on the page).
pub async fn recorded_extras(
    formations: &[FormationConfig],
    history: &dyn HistoryStore,
    state: &dyn StateStore,
    now: DateTime<Utc>,
) -> BTreeMap<String, Extras> {
    let mut extras = BTreeMap::new();
    for f in formations {
        match read_minutes(history, state, &f.key(), now - PAGE_SPAN, now).await {
            Ok(records) if !records.is_empty() => {
                extras.insert(
                    f.name.clone(),
                    Extras {
                        history: Some(history_view(f, &records)),
                        frontier: None,
                    },
                );
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(formation = %f.name, error = %e, "status page: history not read")
            }
        }
    }
    extras
}
