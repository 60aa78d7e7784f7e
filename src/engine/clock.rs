//! Which `now` to trust: an event's own `time`, or the clock.
//!
//! A scheduled event's `time` is the minute it was scheduled for, and using it
//! as `now` keeps runs on whole minutes and replays exact. But it is only a
//! claim: an event written by hand, or by a broken or malicious sender, can say
//! 1970 or 2099, and everything a run stores (samples, scales, claims) is dated
//! with `now`.
//!
//! The rule: the event's `time` is used when it lies within
//! [`CLOCK_TOLERANCE`] of the clock; otherwise the run goes ahead at the clock
//! and the report says so. Not refused, because an experienced AWS user expects
//! a late delivery to still do its job: EventBridge retries a rule's delivery
//! for up to 24 hours and Lambda's asynchronous queue keeps an event up to
//! 6 hours, so an event hours old is a normal, late request to "run now". Its
//! inputs are polled now, so its decision must be dated now; refusing would
//! drop that run and, as a function error, cause yet more retried deliveries.
//! The event id still makes a repeated delivery a no-op.

use chrono::{DateTime, Utc};

use super::ClockNote;
use crate::domain::CLOCK_TOLERANCE;
use crate::store::FormationState;

/// Stable label of [`ClockNote::reason`].
pub const EVENT_TIME_OFF_CLOCK: &str = "event_time_off_clock";

/// The `now` for an event dated `time`, read against `clock`: the event's time
/// when it lies within [`CLOCK_TOLERANCE`] of the clock (or there is none),
/// else the clock, with the note the report carries.
pub fn event_now(
    time: Option<DateTime<Utc>>,
    clock: DateTime<Utc>,
) -> (DateTime<Utc>, Option<ClockNote>) {
    let Some(time) = time else {
        return (clock, None);
    };
    let offset = time - clock;
    if offset.abs() <= CLOCK_TOLERANCE {
        return (time, None);
    }
    let offset_s = offset.num_seconds();
    let note = format!(
        "the event's time {} is {} the clock (more than {} off): using the clock {} as now",
        time.format("%Y-%m-%dT%H:%M:%SZ"),
        if offset_s < 0 {
            format!("{} behind", text(-offset))
        } else {
            format!("{} ahead of", text(offset))
        },
        text(CLOCK_TOLERANCE),
        clock.format("%Y-%m-%dT%H:%M:%SZ"),
    );
    (
        clock,
        Some(ClockNote {
            reason: EVENT_TIME_OFF_CLOCK,
            event_time: time,
            offset_s,
            note,
        }),
    )
}

/// Repair stored times that lie further after a checked `now` than any clock
/// can be off. Only a run with a wrong `now` (an event dated 2099, before
/// events were checked against the clock) wrote them; left alone, such samples
/// would hold the input missing and such a scale would be "the last one" for
/// decades. Samples from the future are dropped (their time is unknown), the
/// other times become `now` (a scale that happened, happened by now; cool-offs
/// then count from now, once). Returns a note for the report, if it repaired.
pub(super) fn repair_future(state: &mut FormationState, now: DateTime<Utc>) -> Option<String> {
    let limit = now + CLOCK_TOLERANCE;
    let mut samples = 0;
    let mut polls = 0;
    let mut times = 0;
    let mut clamp = |t: &mut DateTime<Utc>| {
        if *t > limit {
            *t = now;
            times += 1;
        }
    };
    for input in state.window.inputs.values_mut() {
        let before = input.samples.len();
        input.samples.retain(|s| s.at <= limit);
        samples += before - input.samples.len();
        if input.last_poll.is_some_and(|t| t > limit) {
            // Not polled yet as far as `now` knows: due now.
            input.last_poll = None;
            polls += 1;
        }
        if let Some(t) = input.failing_since.as_mut() {
            clamp(t);
        }
    }
    for event in &mut state.history.events {
        clamp(&mut event.at);
    }
    for mark in state.notifications.values_mut() {
        clamp(&mut mark.since);
        if let Some(t) = mark.last_sent.as_mut() {
            clamp(t);
        }
    }
    (samples + polls + times > 0).then(|| {
        format!(
            "repaired stored state dated after now (written by a run with a wrong time): dropped {samples} sample(s), moved {times} time(s) to now"
        )
    })
}

fn text(d: chrono::TimeDelta) -> String {
    crate::domain::duration_text(d.to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    fn clock() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 30).unwrap()
    }

    #[test]
    fn an_event_time_near_the_clock_is_now() {
        let time = clock() - TimeDelta::seconds(30);
        assert_eq!(event_now(Some(time), clock()), (time, None));
        assert_eq!(event_now(None, clock()), (clock(), None));
    }

    #[test]
    fn an_event_time_far_off_the_clock_gives_way_to_the_clock_with_a_note() {
        for (time, words) in [
            (
                Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap(),
                "ahead of",
            ),
            (Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(), "behind"),
            (clock() - TimeDelta::hours(3), "3h behind"),
        ] {
            let (now, note) = event_now(Some(time), clock());
            assert_eq!(now, clock());
            let note = note.expect("a note");
            assert_eq!(note.reason, "event_time_off_clock");
            assert_eq!(note.event_time, time);
            assert!(note.note.contains(words), "{}", note.note);
            assert!(
                !note
                    .note
                    .split_whitespace()
                    .any(|w| w.ends_with("ns") || w.ends_with("us")),
                "rounded: {}",
                note.note
            );
        }
    }
}
