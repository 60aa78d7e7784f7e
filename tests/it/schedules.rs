//! Scheduled `min`/`max`: which entry is in force, across both DST transitions
//! in two zones (Europe/Berlin, America/New_York), in decisions and reasons,
//! and the config's checks.

use chrono::{DateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::America::New_York;
use chrono_tz::Europe::Berlin;
use chrono_tz::Tz;
use dynopilot::config::{self, ConfigError};
use dynopilot::domain::{
    decide, Bound, CapacityRule, ReasonCode, Rule, Schedule, ScheduleEntry, ScheduleError,
};

use crate::helpers::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid UTC time")
}

fn schedule(tz: Tz, entries: &[(&str, u32)]) -> Bound {
    let entries = entries
        .iter()
        .map(|(at, value)| ScheduleEntry {
            at: NaiveTime::parse_from_str(at, "%H:%M").expect("HH:MM"),
            value: *value,
        })
        .collect();
    Bound::Schedule(Schedule::new(tz, entries).expect("valid schedule"))
}

/// The value at `from`, then every (instant, value) at which it changes, checked
/// minute by minute up to `to`.
fn changes(bound: &Bound, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, u32)> {
    let mut out = vec![(from, bound.at(from))];
    let mut t = from + TimeDelta::minutes(1);
    while t <= to {
        let v = bound.at(t);
        if out.last().map(|(_, last)| *last) != Some(v) {
            out.push((t, v));
        }
        t += TimeDelta::minutes(1);
    }
    out
}

// ---------------------------------------------------------------------------
// Which entry is in force
// ---------------------------------------------------------------------------

#[test]
fn office_hours_schedule_applies_between_its_entries_in_local_time() {
    // Europe/Berlin in January is UTC+1.
    let min = schedule(Berlin, &[("08:00", 3), ("18:00", 1)]);
    assert_eq!(min.at(utc(2026, 1, 5, 6, 59)), 1, "07:59 local");
    assert_eq!(min.at(utc(2026, 1, 5, 7, 0)), 3, "08:00 local");
    assert_eq!(min.at(utc(2026, 1, 5, 16, 59)), 3, "17:59 local");
    assert_eq!(min.at(utc(2026, 1, 5, 17, 0)), 1, "18:00 local");
}

#[test]
fn before_the_first_entry_of_the_day_the_previous_days_last_entry_applies() {
    let max = schedule(Berlin, &[("06:00", 2), ("22:00", 5)]);
    // 03:00 local: yesterday's 22:00 entry is still in force.
    assert_eq!(max.at(utc(2026, 1, 5, 2, 0)), 5);
    assert_eq!(max.at(utc(2026, 1, 5, 5, 0)), 2);
}

#[test]
fn entries_follow_local_time_across_a_dst_change() {
    let min = schedule(Berlin, &[("08:00", 3), ("18:00", 1)]);
    // 08:00 CET is 07:00 UTC the day before the change, 08:00 CEST is 06:00 UTC after.
    assert_eq!(
        changes(&min, utc(2026, 3, 28, 6, 0), utc(2026, 3, 28, 8, 0)),
        vec![(utc(2026, 3, 28, 6, 0), 1), (utc(2026, 3, 28, 7, 0), 3)]
    );
    assert_eq!(
        changes(&min, utc(2026, 3, 29, 5, 0), utc(2026, 3, 29, 7, 0)),
        vec![(utc(2026, 3, 29, 5, 0), 1), (utc(2026, 3, 29, 6, 0), 3)]
    );
}

// ---------------------------------------------------------------------------
// Spring forward: an entry in the missing hour takes effect when clocks jump
// ---------------------------------------------------------------------------

#[test]
fn berlin_spring_forward_entry_in_the_gap_takes_effect_at_the_jump() {
    // 2026-03-29: 02:00 CET (01:00 UTC) jumps to 03:00 CEST; 02:30 never happens.
    let min = schedule(Berlin, &[("01:00", 2), ("02:30", 5), ("12:00", 1)]);
    assert_eq!(
        changes(&min, utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 12, 0)),
        vec![
            (utc(2026, 3, 28, 23, 0), 1), // 00:00 CET: yesterday's 12:00 entry
            (utc(2026, 3, 29, 0, 0), 2),  // 01:00 CET
            (utc(2026, 3, 29, 1, 0), 5),  // 03:00 CEST, the first instant after the gap
            (utc(2026, 3, 29, 10, 0), 1), // 12:00 CEST
        ]
    );
}

#[test]
fn new_york_spring_forward_entry_in_the_gap_takes_effect_at_the_jump() {
    // 2026-03-08: 02:00 EST (07:00 UTC) jumps to 03:00 EDT.
    let min = schedule(New_York, &[("01:00", 2), ("02:30", 5), ("12:00", 1)]);
    assert_eq!(
        changes(&min, utc(2026, 3, 8, 5, 0), utc(2026, 3, 8, 17, 0)),
        vec![
            (utc(2026, 3, 8, 5, 0), 1),  // 00:00 EST
            (utc(2026, 3, 8, 6, 0), 2),  // 01:00 EST
            (utc(2026, 3, 8, 7, 0), 5),  // 03:00 EDT
            (utc(2026, 3, 8, 16, 0), 1), // 12:00 EDT
        ]
    );
}

// ---------------------------------------------------------------------------
// Fall back: the repeated hour switches once and never flaps
// ---------------------------------------------------------------------------

#[test]
fn berlin_fall_back_repeated_hour_switches_once() {
    // 2026-10-25: 03:00 CEST (01:00 UTC) falls back to 02:00 CET; 02:00-02:59 twice.
    let max = schedule(Berlin, &[("01:00", 2), ("02:30", 5), ("12:00", 1)]);
    assert_eq!(
        changes(&max, utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 12, 0)),
        vec![
            (utc(2026, 10, 24, 22, 0), 1), // 00:00 CEST
            (utc(2026, 10, 24, 23, 0), 2), // 01:00 CEST
            (utc(2026, 10, 25, 0, 30), 5), // the first 02:30 (CEST); not again at 02:30 CET
            (utc(2026, 10, 25, 11, 0), 1), // 12:00 CET
        ]
    );
}

#[test]
fn berlin_fall_back_several_entries_inside_the_repeated_hour_do_not_flap() {
    let min = schedule(
        Berlin,
        &[("00:00", 1), ("02:15", 4), ("02:45", 6), ("06:00", 1)],
    );
    assert_eq!(
        changes(&min, utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 6, 0)),
        vec![
            (utc(2026, 10, 24, 22, 0), 1), // 00:00 CEST
            (utc(2026, 10, 25, 0, 15), 4), // 02:15 CEST
            (utc(2026, 10, 25, 0, 45), 6), // 02:45 CEST; 02:00-02:59 CET keeps 6
            (utc(2026, 10, 25, 5, 0), 1),  // 06:00 CET
        ]
    );
}

#[test]
fn new_york_fall_back_repeated_hour_switches_once() {
    // 2026-11-01: 02:00 EDT (06:00 UTC) falls back to 01:00 EST; 01:00-01:59 twice.
    let min = schedule(New_York, &[("00:00", 1), ("01:30", 5), ("06:00", 2)]);
    assert_eq!(
        changes(&min, utc(2026, 11, 1, 3, 0), utc(2026, 11, 1, 12, 0)),
        vec![
            (utc(2026, 11, 1, 3, 0), 2),  // 23:00 EDT on Oct 31: its 06:00 entry
            (utc(2026, 11, 1, 4, 0), 1),  // 00:00 EDT
            (utc(2026, 11, 1, 5, 30), 5), // the first 01:30 (EDT); not again at 01:30 EST
            (utc(2026, 11, 1, 11, 0), 2), // 06:00 EST
        ]
    );
}

// ---------------------------------------------------------------------------
// In decisions
// ---------------------------------------------------------------------------

#[test]
fn decision_raises_to_the_scheduled_min_and_says_so() {
    let mut policy = rule_policy(Rule::new(CapacityRule { per_dyno: 100.0 }));
    policy.min = schedule(Berlin, &[("08:00", 3), ("18:00", 1)]);
    let now = utc(2026, 1, 5, 8, 0); // 09:00 in Berlin
    let window = window_of("rt", per_minute(now, &[50.0]));

    let d = decide(&policy, &window, 1, &Default::default(), now);

    assert_eq!(d.target, 3);
    assert_eq!(d.min, 3);
    assert_eq!(d.reason.code, ReasonCode::ClampedToMin);
    assert!(
        d.reason
            .text
            .starts_with("needs 1, raised to min 3 (schedule 08:00 Europe/Berlin)"),
        "{}",
        d.reason.text
    );
}

#[test]
fn decision_outside_office_hours_uses_the_evening_entry() {
    let mut policy = rule_policy(Rule::new(CapacityRule { per_dyno: 100.0 }));
    policy.min = schedule(Berlin, &[("08:00", 3), ("18:00", 1)]);
    policy.max_step_down = Some(5);
    let now = utc(2026, 1, 5, 20, 0); // 21:00 in Berlin
    let window = window_of("rt", per_minute(now, &[50.0]));

    let d = decide(&policy, &window, 3, &Default::default(), now);

    assert_eq!(d.target, 1);
    assert_eq!(d.min, 1);
    assert_eq!(d.reason.code, ReasonCode::LoadBelow);
}

#[test]
fn decision_caps_at_the_scheduled_max_and_says_so() {
    let mut policy = rule_policy(Rule::new(CapacityRule { per_dyno: 100.0 }));
    policy.max = schedule(New_York, &[("07:00", 10), ("22:00", 2)]);
    let now = utc(2026, 7, 1, 4, 0); // 00:00 EDT
    let window = window_of("rt", per_minute(now, &[900.0]));

    let d = decide(&policy, &window, 2, &Default::default(), now);

    assert_eq!(d.target, 2);
    assert_eq!(d.max, 2);
    assert!(d.needs_above(d.max));
    assert_eq!(d.reason.code, ReasonCode::ClampedToMax);
    assert!(
        d.reason
            .text
            .starts_with("needs 9, capped at max 2 (schedule 22:00 America/New_York)"),
        "{}",
        d.reason.text
    );
}

#[test]
fn fixed_bounds_are_reported_without_a_schedule_note() {
    let mut policy = rule_policy(Rule::new(CapacityRule { per_dyno: 100.0 }));
    policy.max = 4.into();
    let now = at(12, 0);
    let d = decide(
        &policy,
        &window_of("rt", per_minute(now, &[900.0])),
        2,
        &Default::default(),
        now,
    );
    assert!(
        d.reason.text.starts_with("needs 9, capped at max 4 ["),
        "{}",
        d.reason.text
    );
}

#[test]
fn a_schedule_needs_entries_and_distinct_times() {
    assert_eq!(Schedule::new(Berlin, vec![]), Err(ScheduleError::Empty));
    let at = NaiveTime::from_hms_opt(8, 0, 0).expect("time");
    assert_eq!(
        Schedule::new(
            Berlin,
            vec![
                ScheduleEntry { at, value: 1 },
                ScheduleEntry { at, value: 2 }
            ]
        ),
        Err(ScheduleError::Duplicate("08:00".into()))
    );
}

// ---------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------

fn config_text(global: &str, formation: &str) -> String {
    format!(
        r#"
{global}

[[formations]]
app = "demo-app"
type = "web"
{formation}

[[formations.inputs]]
name = "rpm"
type = "constant"
value = 500
per_dyno = 100
"#
    )
}

fn problems(global: &str, formation: &str) -> Vec<(String, String)> {
    match config::parse(&config_text(global, formation)) {
        Ok(_) => Vec::new(),
        Err(e @ ConfigError::Invalid(_)) => e
            .field_errors()
            .iter()
            .map(|f| (f.path.clone(), f.message.clone()))
            .collect(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

fn assert_problem(formation: &str, path: &str, contains: &str) {
    let found = problems("", formation);
    assert!(
        found.iter().any(|(p, m)| p == path && m.contains(contains)),
        "expected {path}: ...{contains}... in {found:?}"
    );
}

#[test]
fn config_reads_schedules_in_the_global_time_zone() {
    let config = config::parse(&config_text(
        "time_zone = \"Europe/Berlin\"",
        "min = { \"08:00\" = 3, \"18:00\" = 1 }\nmax = 10",
    ))
    .expect("valid config");
    let policy = &config.formations[0].policy;
    assert_eq!(policy.min, schedule(Berlin, &[("08:00", 3), ("18:00", 1)]));
    assert_eq!(policy.max, Bound::Fixed(10));
}

#[test]
fn formation_time_zone_overrides_the_global_one() {
    let config = config::parse(&config_text(
        "time_zone = \"Europe/Berlin\"",
        "time_zone = \"America/New_York\"\nmin = 1\nmax = { \"07:00\" = 10, \"22:00\" = 2 }",
    ))
    .expect("valid config");
    assert_eq!(
        config.formations[0].policy.max,
        schedule(New_York, &[("07:00", 10), ("22:00", 2)])
    );
    let described = config.describe();
    assert_eq!(
        described["formations"][0]["max"],
        serde_json::json!({"07:00": 10, "22:00": 2})
    );
    assert_eq!(described["formations"][0]["time_zone"], "America/New_York");
}

#[test]
fn bad_schedule_times_are_reported_with_their_path() {
    for bad in ["8:00", "24:00", "12:60", "noon", "08:00:00"] {
        assert_problem(
            &format!("min = {{ \"{bad}\" = 2 }}\nmax = 10"),
            &format!("formations[0].min.{bad}"),
            "is not a time of day: write \"HH:MM\", 00:00 to 23:59",
        );
    }
}

#[test]
fn schedule_values_and_shapes_are_validated() {
    assert_problem(
        "min = {}\nmax = 10",
        "formations[0].min",
        "a schedule needs at least one \"HH:MM\" = n entry",
    );
    assert_problem(
        "min = { \"08:00\" = -1 }\nmax = 10",
        "formations[0].min.08:00",
        "must be >= 0",
    );
    assert_problem(
        "min = 1\nmax = { \"08:00\" = \"lots\" }",
        "formations[0].max.08:00",
        "must be a whole number",
    );
    assert_problem(
        "min = \"3\"\nmax = 10",
        "formations[0].min",
        "must be a whole number or a schedule",
    );
    assert_problem(
        "time_zone = \"Mars/Olympus\"\nmax = 10",
        "formations[0].time_zone",
        "unknown IANA time zone \"Mars/Olympus\"",
    );
}

#[test]
fn min_above_max_at_any_boundary_is_refused() {
    // At 12:00 max drops to 4 while min is still 5.
    assert_problem(
        "min = { \"08:00\" = 5, \"18:00\" = 1 }\nmax = { \"00:00\" = 10, \"12:00\" = 4, \"20:00\" = 10 }",
        "formations[0].min",
        "at 12:00 (UTC) min is 5 but max is 4",
    );
    // A fixed min above a night-time max, found at the schedule's first entry
    // of the night; before the first entry the previous day's last applies.
    assert_problem(
        "min = 3\nmax = { \"07:00\" = 10, \"22:00\" = 2 }",
        "formations[0].min",
        "at 22:00 (UTC) min is 3 but max is 2",
    );
    assert_problem(
        "min = { \"08:00\" = 2 }\nmax = { \"06:00\" = 1, \"09:00\" = 5 }",
        "formations[0].min",
        "at 06:00 (UTC) min is 2 but max is 1",
    );
    assert_problem(
        "min = 5\nmax = 3",
        "formations[0].min",
        "min (5) must not be greater than max (3)",
    );
    // Touching but never crossing is fine.
    assert_eq!(
        problems(
            "",
            "min = { \"08:00\" = 3, \"18:00\" = 1 }\nmax = { \"08:00\" = 3, \"18:00\" = 2 }"
        ),
        vec![]
    );
}

#[test]
fn fallback_is_checked_against_the_bounds_extremes() {
    // 4 is within 1..=10 (lowest min .. highest max) although max is 2 at night.
    assert_eq!(
        problems(
            "",
            "min = 1\nmax = { \"07:00\" = 10, \"22:00\" = 2 }\nfallback = 4"
        ),
        vec![]
    );
    assert_problem(
        "min = { \"08:00\" = 3, \"18:00\" = 2 }\nmax = 10\nfallback = 1",
        "formations[0].fallback",
        "must be within min..max (2..10), found 1",
    );
    assert_problem(
        "min = 1\nmax = { \"07:00\" = 10, \"22:00\" = 2 }\nfallback = 11",
        "formations[0].fallback",
        "must be within min..max (1..10), found 11",
    );
}
