//! `min` and `max`: a fixed count, or a schedule of local times of day.
//!
//! autoscalebot let operators keep more dynos during office hours; dynopilot
//! keeps that as `min = { "08:00" = 3, "18:00" = 1 }` in an IANA time zone.
//! The entry in force is the latest one at or before the local time of day;
//! before the day's first entry, the previous day's last entry still applies.
//!
//! Daylight saving time makes "the local time of day" ambiguous twice a year,
//! so every entry is turned into an instant per local day:
//! - a time that does not exist (clocks spring forward over it) takes effect
//!   at the first local minute after the gap, i.e. the instant of the change
//!   (an entry at 02:30 in Europe/Berlin on the last Sunday of March applies
//!   from 03:00 CEST);
//! - a time that happens twice (clocks fall back) takes effect at its first
//!   occurrence and is not applied again in the repeated hour, so the bound
//!   switches once and never flaps back and forth.

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono::{LocalResult, Timelike};
use chrono_tz::Tz;

/// A lower or upper bound on the dyno count.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    /// The same count at every time.
    Fixed(u32),
    /// A count that changes at local times of day.
    Schedule(Schedule),
}

/// One `"HH:MM" = n` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleEntry {
    /// Local time of day from which `value` applies.
    pub at: NaiveTime,
    pub value: u32,
}

/// Entries, sorted by time of day, in one time zone. Never empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    tz: Tz,
    entries: Vec<ScheduleEntry>,
}

/// Why a schedule could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("a schedule needs at least one \"HH:MM\" = n entry")]
    Empty,
    #[error("{0} appears twice")]
    Duplicate(String),
}

/// The bound's value at an instant and, for a schedule, the entry that set it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved {
    pub value: u32,
    /// The schedule entry in force and its time zone; `None` for a fixed bound.
    pub entry: Option<(ScheduleEntry, Tz)>,
}

impl fmt::Display for Resolved {
    /// `3`, or `3 (schedule 08:00 Europe/Berlin)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.entry {
            None => write!(f, "{}", self.value),
            Some((entry, tz)) => write!(
                f,
                "{} (schedule {} {})",
                self.value,
                hhmm(entry.at),
                tz.name()
            ),
        }
    }
}

/// "HH:MM" for a time of day.
pub fn hhmm(t: NaiveTime) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// Parse a strict `"HH:MM"` (two digits each, 00:00 to 23:59).
pub fn parse_hhmm(text: &str) -> Option<NaiveTime> {
    let b = text.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let digits = |s: &[u8]| -> Option<u32> {
        s.iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    NaiveTime::from_hms_opt(digits(&b[..2])?, digits(&b[3..])?, 0)
}

impl Schedule {
    /// Build a schedule; entries may come in any order.
    ///
    /// # Errors
    /// [`ScheduleError`] when there are no entries or a time appears twice.
    pub fn new(tz: Tz, mut entries: Vec<ScheduleEntry>) -> Result<Self, ScheduleError> {
        if entries.is_empty() {
            return Err(ScheduleError::Empty);
        }
        entries.sort_by_key(|e| e.at);
        if let Some(pair) = entries.windows(2).find(|p| p[0].at == p[1].at) {
            return Err(ScheduleError::Duplicate(hhmm(pair[0].at)));
        }
        Ok(Self { tz, entries })
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The entries, sorted by time of day.
    pub fn entries(&self) -> &[ScheduleEntry] {
        &self.entries
    }

    /// The entry in force at `now` (see the module doc for DST).
    pub fn entry_at(&self, now: DateTime<Utc>) -> ScheduleEntry {
        let today = now.with_timezone(&self.tz).date_naive();
        // The wall-clock-to-instant mapping below never goes backwards, so the
        // last entry (in date, then time order) whose instant is not after `now`
        // is the one in force. Two days back covers any real zone's transitions.
        let mut in_force = None;
        for days_back in (0..=2).rev() {
            let Some(date) = today.checked_sub_signed(TimeDelta::days(days_back)) else {
                continue;
            };
            for entry in &self.entries {
                match instant_of(self.tz, date, entry.at) {
                    Some(t) if t <= now => in_force = Some(*entry),
                    _ => {}
                }
            }
        }
        // Unreachable for real zones; the last entry of a day is the safe reading.
        in_force.unwrap_or(self.entries[self.entries.len() - 1])
    }

    /// The value at a local time of day, ignoring DST: what an operator reads off
    /// the table, used to check `min <= max` at every boundary.
    pub fn value_at_local(&self, t: NaiveTime) -> u32 {
        self.entries
            .iter()
            .rev()
            .find(|e| e.at <= t)
            .unwrap_or(&self.entries[self.entries.len() - 1])
            .value
    }
}

/// The instant a local date and time of day first happens in `tz`; a time in a
/// spring-forward gap maps to the first local minute after the gap.
fn instant_of(tz: Tz, date: NaiveDate, time: NaiveTime) -> Option<DateTime<Utc>> {
    let local = date.and_time(time);
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t.with_timezone(&Utc)),
        LocalResult::None => {
            // Gaps are an hour or two (a whole day once, Samoa 2011): walk forward
            // minute by minute, bounded, until a local time exists again.
            (1..=48 * 60).find_map(|m| {
                match tz.from_local_datetime(&(local + TimeDelta::minutes(m))) {
                    LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                        Some(t.with_timezone(&Utc))
                    }
                    LocalResult::None => None,
                }
            })
        }
    }
}

impl Bound {
    /// The bound's value at `now`.
    pub fn at(&self, now: DateTime<Utc>) -> u32 {
        self.resolve(now).value
    }

    /// The value at `now` and the schedule entry that set it, for reasons.
    pub fn resolve(&self, now: DateTime<Utc>) -> Resolved {
        match self {
            Self::Fixed(n) => Resolved {
                value: *n,
                entry: None,
            },
            Self::Schedule(s) => {
                let entry = s.entry_at(now);
                Resolved {
                    value: entry.value,
                    entry: Some((entry, s.tz)),
                }
            }
        }
    }

    /// The smallest value the bound ever takes.
    pub fn lowest(&self) -> u32 {
        match self {
            Self::Fixed(n) => *n,
            Self::Schedule(s) => s.entries.iter().map(|e| e.value).min().unwrap_or(0),
        }
    }

    /// The largest value the bound ever takes.
    pub fn highest(&self) -> u32 {
        match self {
            Self::Fixed(n) => *n,
            Self::Schedule(s) => s.entries.iter().map(|e| e.value).max().unwrap_or(0),
        }
    }

    /// Value at a local time of day (DST ignored; see [`Schedule::value_at_local`]).
    pub fn value_at_local(&self, t: NaiveTime) -> u32 {
        match self {
            Self::Fixed(n) => *n,
            Self::Schedule(s) => s.value_at_local(t),
        }
    }

    fn change_points(&self) -> Vec<NaiveTime> {
        match self {
            Self::Fixed(_) => Vec::new(),
            Self::Schedule(s) => s.entries.iter().map(|e| e.at).collect(),
        }
    }
}

impl From<u32> for Bound {
    fn from(n: u32) -> Self {
        Self::Fixed(n)
    }
}

impl fmt::Display for Bound {
    /// `3`, or `{08:00 = 3, 18:00 = 1} Europe/Berlin`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(n) => write!(f, "{n}"),
            Self::Schedule(s) => {
                let entries: Vec<String> = s
                    .entries
                    .iter()
                    .map(|e| format!("{} = {}", hhmm(e.at), e.value))
                    .collect();
                write!(f, "{{{}}} {}", entries.join(", "), s.tz.name())
            }
        }
    }
}

/// Where `min` would exceed `max`: the first local time of day (`None` when
/// both are fixed) with the two values there.
///
/// Both bounds of a formation share its time zone and both step only at their
/// entries, so checking every entry time of either schedule checks every time
/// of day. DST only moves when an entry takes effect, the same way for both.
pub fn first_conflict(min: &Bound, max: &Bound) -> Option<(Option<NaiveTime>, u32, u32)> {
    let mut points: Vec<NaiveTime> = min.change_points();
    points.extend(max.change_points());
    points.sort();
    points.dedup();
    if points.is_empty() {
        let (lo, hi) = (min.lowest(), max.lowest());
        return (lo > hi).then_some((None, lo, hi));
    }
    points.into_iter().find_map(|t| {
        let (lo, hi) = (min.value_at_local(t), max.value_at_local(t));
        (lo > hi).then_some((Some(t), lo, hi))
    })
}
