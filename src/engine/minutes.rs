//! Step 6½: each formation's minute goes into its buffered hour
//! ([`crate::store::FormationState::minutes`]); finished hours go to the
//! history store, one write per formation per hour ([`crate::history`]).

use chrono::{DateTime, Utc};
use futures::future::join_all;
use tracing::warn;

use super::Work;
use crate::domain::{CapacityRule, Decision};
use crate::history::{buffer_minute, finished, HistoryStore, MinuteInput};

/// What this run saw and decided, as one history minute.
pub(super) fn minute_of(w: &Work<'_>, now: DateTime<Utc>) -> MinuteInput {
    let inputs = w
        .config
        .inputs
        .iter()
        .map(|input| {
            let value = w
                .state
                .window
                .inputs
                .get(&input.name)
                .and_then(|s| s.latest())
                .filter(|s| s.at == now)
                .map(|s| s.value);
            (input.name.clone(), value)
        })
        .collect();
    let quantity = w.current;
    let per_dyno = w
        .config
        .policy
        .inputs
        .iter()
        .find_map(|i| i.rule.downcast::<CapacityRule>().map(|c| c.per_dyno));
    MinuteInput {
        at: now,
        inputs,
        quantity,
        target: w.decision.as_ref().map(|d: &Decision| d.target),
        capacity: per_dyno.zip(quantity).map(|(p, q)| p * f64::from(q)),
    }
}

/// Buffer the minute of every live formation and flush their finished hours
/// (without a history store they are dropped: only the current hour is kept).
/// A flush that fails leaves its hours buffered for the next run.
pub(super) async fn record(
    work: &mut [Work<'_>],
    history: Option<&dyn HistoryStore>,
    now: DateTime<Utc>,
) {
    for w in work.iter_mut().filter(|w| w.live) {
        let minute = minute_of(w, now);
        buffer_minute(&mut w.state.minutes, &minute);
    }
    let Some(history) = history else {
        for w in work.iter_mut().filter(|w| w.live) {
            let done = finished(&w.state.minutes, now);
            w.state.minutes.drain(..done);
        }
        return;
    };
    let flushes = work.iter().filter(|w| w.live).map(|w| {
        let done = finished(&w.state.minutes, now);
        let key = w.config.key();
        let keep = w.config.history;
        let blocks = &w.state.minutes[..done];
        async move {
            for block in blocks {
                history.put_hour(&key, block, keep).await?;
            }
            Ok::<usize, crate::store::StoreError>(done)
        }
    });
    let results = join_all(flushes).await;
    for (w, result) in work.iter_mut().filter(|w| w.live).zip(results) {
        match result {
            Ok(done) => {
                w.state.minutes.drain(..done);
            }
            Err(e) => {
                warn!(formation = %w.config.name, error = %e, "history flush failed; kept for the next run");
                w.notes
                    .push(format!("history not flushed (kept for the next run): {e}"));
            }
        }
    }
}

/// Mark the scale this run made in the buffered minute.
pub(super) fn mark_scale(w: &mut Work<'_>, now: DateTime<Utc>, d: &Decision) {
    if let Some(block) = w.state.minutes.last_mut() {
        block.mark_scale(now, d.current, d.target, d.reason.code.as_str());
    }
}
