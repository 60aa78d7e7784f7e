//! Notifications: episodes (one mail per condition, reminders, resolved),
//! events, and a Heroku 422 that mails once, not once a minute.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use dynopilot::engine::{Invocation, Outcome};
use dynopilot::inputs::{ScriptedSource, SourceError, SourceErrorKind};
use dynopilot::notify::{NotificationKind, Phase};
use dynopilot::scaler::{ScaleError, ScaleErrorKind};

use crate::helpers::{at, config, minutes, world, World};

/// A formation `shop web` (min 2, max 10) with two inputs: `load` (100 per
/// dyno) and `queue` (50 per dyno), every alert switched on, reminders after 1h.
const SCENARIO: &str = r#"
[state]
kind = "memory"

[notifications]
on_needs_above_max = true
on_needs_below_min = true
on_scale_failed = true
on_input_failing = true
input_failing_after = "10m"
on_too_rapid = true
too_rapid_scales = 4
too_rapid_window = "10m"
on_quantity_above = true
quantity_above = 8
quantity_above_for = "20m"
renotify_after = "1h"

[[formations]]
name = "shop web"
app = "shop"
type = "web"
min = 2
max = 10
scale_down_cooloff = "2m"

[[formations.inputs]]
name = "load"
type = "constant"
value = 0
per_dyno = 100

[[formations.inputs]]
name = "queue"
type = "constant"
value = 0
per_dyno = 50
"#;

struct Scenario {
    world: World,
    load: Arc<ScriptedSource>,
    queue: Arc<ScriptedSource>,
}

fn scenario(toml: &str) -> Scenario {
    let load = Arc::new(ScriptedSource::constant(300.0));
    let queue = Arc::new(ScriptedSource::constant(50.0));
    let config = config(toml);
    let sources: Vec<Arc<dyn dynopilot::inputs::MetricSource>> =
        if config.formations[0].inputs.len() == 2 {
            vec![load.clone(), queue.clone()]
        } else {
            vec![load.clone()]
        };
    let world = world(config, vec![sources]);
    world.scaler.set("shop", "web", 3);
    Scenario { world, load, queue }
}

fn start() -> DateTime<Utc> {
    at(9, 0)
}

fn unavailable() -> SourceError {
    SourceError::new(SourceErrorKind::Unavailable, "queue service answered 503")
}

fn rejected() -> ScaleError {
    ScaleError::new(
        ScaleErrorKind::Rejected,
        "Cannot update to more than 3 Standard-1X dynos per process type.",
    )
}

/// (minute, kind, phase) of everything sent, in order.
fn sequence(w: &World, minute_of: &[(usize, i64)]) -> Vec<(i64, NotificationKind, Phase)> {
    let sent = w.notifier.sent();
    minute_of
        .iter()
        .map(|&(index, minute)| (minute, sent[index].kind, sent[index].phase))
        .collect()
}

#[tokio::test]
async fn a_three_hour_scenario_mails_each_episode_once_reminds_and_resolves() {
    let s = scenario(SCENARIO);
    let mut minute_of = Vec::new();
    for minute in 0..180i64 {
        let load = match minute {
            0..=29 => 300.0,
            30..=99 => 1400.0,
            100..=139 => 100.0,
            _ => 500.0,
        };
        s.load.set([Ok(load)]);
        s.queue.set([if (10..=40).contains(&minute) {
            Err(unavailable())
        } else {
            Ok(50.0)
        }]);
        if (140..=145).contains(&minute) {
            s.world.scaler.fail_next_scale(rejected());
        }
        let before = s.world.notifier.sent().len();
        s.world
            .engine
            .invoke(&Invocation::at(start() + minutes(minute)))
            .await;
        for index in before..s.world.notifier.sent().len() {
            minute_of.push((index, minute));
        }
    }
    use NotificationKind::*;
    use Phase::*;
    assert_eq!(
        sequence(&s.world, &minute_of),
        vec![
            // queue fails from minute 10: mailed once it has failed for 10m.
            (20, InputFailing, Opened),
            // load 1400 asks for 14 > max 10 (scaled to 10 meanwhile).
            (30, NeedsAboveMax, Opened),
            (41, InputFailing, Resolved),
            // 10 dynos > 8 since minute 30, for 20m.
            (50, QuantityAbove, Opened),
            // Still above max an hour after the first mail.
            (90, NeedsAboveMax, Reminder),
            // Load falls at 100; the 5m window, (now − 5m, now], holds
            // only minutes 100..104 at 104 and forgets 1400 then.
            (104, NeedsAboveMax, Resolved),
            (104, NeedsBelowMin, Opened),
            // Stepping down 10→9 (104), 9→8 (106).
            (106, QuantityAbove, Resolved),
            // Five step-downs within 10m (104..112), more than 4.
            (112, TooRapid, Opened),
            (120, TooRapid, Resolved),
            // Load 500 asks for 5; Heroku refuses 2→5 for six minutes.
            (140, ScaleFailed, Opened),
            (140, NeedsBelowMin, Resolved),
            (146, ScaleFailed, Resolved),
        ]
    );
    let subjects: Vec<String> = s
        .world
        .notifier
        .sent()
        .into_iter()
        .map(|n| n.subject)
        .collect();
    assert_eq!(subjects[1], "[dynopilot] shop web needs 14 > max 10");
    assert_eq!(
        subjects[4],
        "[dynopilot] shop web needs 14 > max 10 (since 2026-01-05 09:30Z)"
    );
    assert_eq!(
        subjects[5],
        "[dynopilot] shop web RESOLVED: needs above max"
    );
    assert_eq!(
        subjects[0],
        "[dynopilot] shop web input queue failing for 10m: unavailable"
    );
    assert_eq!(subjects[8], "[dynopilot] shop web scaled 5 times in 10m");
    assert_eq!(
        subjects[10],
        "[dynopilot] shop web scale 2→5 FAILED: rejected"
    );
    // Every episode is closed: nothing left in the stored marks.
    let stored = s.world.store.snapshot("shop#web").expect("saved");
    assert!(
        stored.value.notifications.is_empty(),
        "{:?}",
        stored.value.notifications
    );
    assert_eq!(s.world.scaler.quantity("shop", "web"), Some(5));
}

/// One formation `shop web` (min 1, max 20) at 2 dynos, load asking for 8.
const ONE: &str = r#"
[state]
kind = "memory"

[[formations]]
name = "shop web"
app = "shop"
type = "web"
min = 1
max = 20

[[formations.inputs]]
name = "load"
type = "constant"
value = 0
per_dyno = 100
"#;

#[tokio::test]
async fn a_heroku_422_every_minute_for_ten_minutes_mails_once_then_resolved_once_a_scale_succeeds()
{
    // GIVEN load asking for 8 dynos and Heroku refusing every scale for 10 minutes
    let s = scenario(ONE);
    s.load.set([Ok(742.0)]);
    s.world.scaler.set("shop", "web", 2);
    // WHEN the autoscaler runs every minute
    for minute in 0..10 {
        s.world.scaler.fail_next_scale(rejected());
        let report = s
            .world
            .engine
            .invoke(&Invocation::at(start() + minutes(minute)))
            .await;
        assert_eq!(report.formations[0].outcome, Outcome::Failed);
    }
    // THEN one scale-failed mail, not ten
    let sent = s.world.notifier.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].kind, NotificationKind::ScaleFailed);
    assert_eq!(sent[0].phase, Phase::Opened);
    assert!(sent[0]
        .body
        .contains("Cannot update to more than 3 Standard-1X dynos"));
    assert!(sent[0].body.contains("Failing since: 2026-01-05 09:00Z"));
    // AND once Heroku accepts, one resolved mail
    let report = s
        .world
        .engine
        .invoke(&Invocation::at(start() + minutes(10)))
        .await;
    assert_eq!(report.formations[0].outcome, Outcome::ScaledUp);
    let sent = s.world.notifier.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].kind, NotificationKind::ScaleFailed);
    assert_eq!(sent[1].phase, Phase::Resolved);
    assert_eq!(
        sent[1].subject,
        "[dynopilot] shop web RESOLVED: scale failed"
    );
    assert!(sent[1].body.contains("after 10m"), "{}", sent[1].body);
}

#[tokio::test]
async fn a_scale_failure_resolves_when_the_change_is_no_longer_needed() {
    let s = scenario(ONE);
    s.load.set([Ok(742.0)]);
    s.world.scaler.set("shop", "web", 2);
    s.world.scaler.fail_next_scale(rejected());
    s.world.engine.invoke(&Invocation::at(start())).await;
    // Someone scaled by hand to what the load needs: no scale is needed any more.
    s.world.scaler.set("shop", "web", 8);
    let report = s
        .world
        .engine
        .invoke(&Invocation::at(start() + minutes(1)))
        .await;
    assert_eq!(report.formations[0].outcome, Outcome::Hold);
    let phases: Vec<Phase> = s.world.notifier.sent().iter().map(|n| n.phase).collect();
    assert_eq!(phases, vec![Phase::Opened, Phase::Resolved]);
}

#[tokio::test]
async fn every_scale_and_every_measurement_are_events_without_dedupe() {
    let toml = ONE.replace(
        "[[formations]]",
        "[notifications]\non_scale = true\non_measurement = true\n\n[[formations]]",
    );
    let s = scenario(&toml);
    s.world.scaler.set("shop", "web", 2);
    for (minute, load) in [(0, 742.0), (1, 742.0), (2, 1500.0)] {
        s.load.set([Ok(load)]);
        s.world
            .engine
            .invoke(&Invocation::at(start() + minutes(minute)))
            .await;
    }
    let got: Vec<(NotificationKind, Phase)> = s
        .world
        .notifier
        .sent()
        .iter()
        .map(|n| (n.kind, n.phase))
        .collect();
    use NotificationKind::*;
    assert_eq!(
        got,
        vec![
            (Scaled, Phase::Event),
            (Measurement, Phase::Event),
            (Measurement, Phase::Event),
            (Scaled, Phase::Event),
            (Measurement, Phase::Event),
        ]
    );
    let sent = s.world.notifier.sent();
    assert_eq!(
        sent[0].subject,
        "[dynopilot] shop web 2→8: load: capacity: max 742 over 5m / 100 per dyno = 8"
    );
    assert_eq!(
        sent[2].subject,
        "[dynopilot] shop web measured: 8 dynos, target 8"
    );
    assert!(
        sent[2].body.contains("load [ok, asks for 8]"),
        "{}",
        sent[2].body
    );
}

#[tokio::test]
async fn a_mail_that_was_not_accepted_is_not_marked_sent_and_goes_out_next_run() {
    // GIVEN load asking for 30 > max 20, and a mail service that is down
    let s = scenario(ONE);
    s.load.set([Ok(3000.0)]);
    s.world.scaler.set("shop", "web", 20);
    s.world.notifier.fail_with("SES throttled");
    let first = s.world.engine.invoke(&Invocation::at(start())).await;
    assert_eq!(first.formations[0].errors[0].stage, "notify");
    let stored = s.world.store.snapshot("shop#web").expect("saved");
    assert_eq!(
        stored.value.notifications["needs_above_max"].last_sent,
        None
    );
    // WHEN the mail service is back
    s.world.notifier.recover();
    s.world
        .engine
        .invoke(&Invocation::at(start() + minutes(1)))
        .await;
    s.world
        .engine
        .invoke(&Invocation::at(start() + minutes(2)))
        .await;
    // THEN the opening mail is sent once more, then not again
    let sent = s.world.notifier.sent();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent
        .iter()
        .all(|n| n.kind == NotificationKind::NeedsAboveMax && n.phase == Phase::Opened));
    let stored = s.world.store.snapshot("shop#web").expect("saved");
    let mark = stored.value.notifications["needs_above_max"];
    assert_eq!(mark.since, start());
    assert_eq!(mark.last_sent, Some(start() + minutes(1)));
}

#[tokio::test]
async fn switched_off_kinds_send_nothing_and_defaults_mail_needs_above_max() {
    // Defaults: needs above max on, needs below min off, quantity above off.
    let s = scenario(ONE);
    s.load.set([Ok(3000.0)]);
    s.world.scaler.set("shop", "web", 20);
    s.world.engine.invoke(&Invocation::at(start())).await;
    s.load.set([Ok(0.0)]);
    for minute in 1..30 {
        s.world
            .engine
            .invoke(&Invocation::at(start() + minutes(minute)))
            .await;
    }
    let got: Vec<(NotificationKind, Phase)> = s
        .world
        .notifier
        .sent()
        .iter()
        .map(|n| (n.kind, n.phase))
        .collect();
    assert_eq!(
        got,
        vec![
            (NotificationKind::NeedsAboveMax, Phase::Opened),
            (NotificationKind::NeedsAboveMax, Phase::Resolved),
        ]
    );
}

#[test]
fn state_stored_before_notifications_existed_still_loads() {
    let old = r#"{"window":{"inputs":{}},"history":{"events":[]},"decisions":[]}"#;
    let state: dynopilot::store::FormationState =
        serde_json::from_str(old).expect("old state loads");
    assert!(state.notifications.is_empty());
    let again = serde_json::to_string(&state).expect("serializes");
    assert!(
        !again.contains("notifications"),
        "empty marks are not written: {again}"
    );
}

#[test]
fn notification_switches_have_their_documented_defaults() {
    let n = config(ONE).notifications;
    assert!(!n.on_scale && n.on_scale_failed && n.on_needs_above_max && n.on_input_failing);
    assert!(!n.on_needs_below_min && !n.on_too_rapid && !n.on_quantity_above && !n.on_measurement);
    assert_eq!(n.input_failing_after, minutes(10));
    assert_eq!((n.too_rapid_scales, n.too_rapid_window), (6, minutes(60)));
    assert_eq!(n.quantity_above_for, minutes(30));
    assert_eq!(n.renotify_after, minutes(360));
}

#[test]
fn bad_notification_settings_are_refused_with_their_field_paths() {
    let toml = ONE.replace(
        "[[formations]]",
        "[notifications]\non_quantity_above = true\ntoo_rapid_scales = 0\nrenotify_after = \"10s\"\ninput_failing_after = \"soon\"\non_too_rapid = \"yes\"\n\n[[formations]]",
    );
    let err = dynopilot::config::parse(&toml)
        .expect_err("refused")
        .to_string();
    for field in [
        "notifications.quantity_above",
        "notifications.too_rapid_scales",
        "notifications.renotify_after",
        "notifications.input_failing_after",
        "notifications.on_too_rapid",
    ] {
        assert!(err.contains(field), "{field} not in {err}");
    }
}
