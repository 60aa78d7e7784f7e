//! Heroku's rate limit as a budget: how often to read each app's formation.
//!
//! Heroku gives each account a pool of 4500 calls, refilled at 4500 an hour
//! (75 a minute). Reading every app every minute costs 60 calls an hour per
//! app, so one token tops out near 75 apps, and 500 apps would empty the pool
//! in ten minutes and then fail every run with 429s. So when the pool left
//! plus the next hour's refill cannot pay for an hour at one read per app per
//! minute (scales included), the engine reads formations less often and
//! trusts the stored count in between:
//!
//! - the stored count is the newest read, or the PATCH that set it;
//! - each app is read every [`Pace::read_every`] minutes, on a minute fixed by
//!   its name (so 500 apps spread evenly instead of all reading at once);
//! - an app is always read afresh before a scale (up or down: a stale count
//!   could turn a "scale up" into a cut below a manual `ps:scale`), while a
//!   claim is pending, and when nothing is stored;
//! - so a manual `heroku ps:scale` is noticed within `read_every` minutes in
//!   steady state and [`staleness_bound`] (1.5 periods, 30 minutes at
//!   [`MAX_READ_EVERY`]) while the pace changes.
//!
//! Pure: the engine hands in the counts and the time.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// Calls Heroku adds to an account's pool per hour (and the pool's size).
pub const HEROKU_CALLS_PER_HOUR: u64 = 4500;
/// Calls an hour left unplanned: for the other tools on the account (CLI,
/// dashboards, deploy pipelines) and for the read of every app after a cold
/// start. dynopilot plans to spend the rest, 3600 an hour.
pub const RESERVE_PER_HOUR: u64 = 900;
/// What one scale costs: the fresh read before it and the PATCH.
pub const CALLS_PER_SCALE: u64 = 2;
/// The longest period between two reads of one app, whatever the budget.
pub const MAX_READ_EVERY: u32 = 20;

/// How often formations are read in this run, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pace {
    /// Minutes between two reads of one app (1: every run, no pacing).
    pub read_every: u32,
    /// Apps this configuration reads.
    pub apps: u32,
    /// Calls left in the account's pool, as Heroku last said.
    pub remaining: Option<u64>,
    /// Scales made in the last hour (each costs [`CALLS_PER_SCALE`]).
    pub scales_last_hour: u64,
    /// Calls an hour at one read per app per minute, scales included.
    pub full_rate_per_hour: u64,
}

impl Pace {
    /// Whether reads are spread out (the report and metrics say so).
    pub fn paced(&self) -> bool {
        self.read_every > 1
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        let remaining = self
            .remaining
            .map_or_else(|| "not yet known".to_string(), |r| r.to_string());
        if self.paced() {
            format!(
                "Heroku reads paced to every {} minutes per app: {} apps at one read a minute would cost {} calls/hour, more than the pool ({remaining} left) and its refill ({HEROKU_CALLS_PER_HOUR}/hour, {RESERVE_PER_HOUR} kept for other tools) can pay; counts in between are the stored ones, and every scale reads afresh first",
                self.read_every, self.apps, self.full_rate_per_hour
            )
        } else {
            format!(
                "Heroku reads every minute: {} calls/hour fit the budget ({remaining} left)",
                self.full_rate_per_hour
            )
        }
    }
}

/// The pace for `apps` apps on one token, with `remaining` calls in the pool
/// (unknown before the first answer: then a full pool is assumed) and
/// `scales_last_hour` scales made.
pub fn pace(apps: u32, remaining: Option<u64>, scales_last_hour: u64) -> Pace {
    let full_rate_per_hour = 60 * u64::from(apps) + CALLS_PER_SCALE * scales_last_hour;
    let pool = remaining.unwrap_or(HEROKU_CALLS_PER_HOUR);
    let mut pace = Pace {
        read_every: 1,
        apps,
        remaining,
        scales_last_hour,
        full_rate_per_hour,
    };
    // Covered: the pool and the next hour's refill pay for an hour at the
    // full rate, and keep the reserve.
    let covered = pool >= RESERVE_PER_HOUR
        && full_rate_per_hour + RESERVE_PER_HOUR <= pool + HEROKU_CALLS_PER_HOUR;
    if covered || apps == 0 {
        return pace;
    }
    // Plan the sustainable rate, not the pool's surplus: a surplus spent now
    // is missing in the next hour. A pool below the reserve means others are
    // spending it: give way in proportion.
    let mut plan = HEROKU_CALLS_PER_HOUR - RESERVE_PER_HOUR;
    if pool < RESERVE_PER_HOUR {
        plan = plan * pool / RESERVE_PER_HOUR;
    }
    let for_reads = plan
        .saturating_sub(CALLS_PER_SCALE * scales_last_hour)
        .max(1);
    let every = (60 * u64::from(apps)).div_ceil(for_reads);
    pace.read_every = every.clamp(1, u64::from(MAX_READ_EVERY)) as u32;
    pace
}

/// Whether an app whose newest read (or PATCH) was at `last` must be read at
/// `now`: on its own minute of every `every` once the count is half a period
/// old, or when the count is a period and a half old (its minute was missed:
/// the pace changed, a run was skipped).
///
/// The half-period wait spreads the reads after a cold start (when every app
/// was read in the same run) over the period at no extra cost: each app is
/// next read on its own minute, not all of them again a period later. So in
/// steady state a count is at most `every` minutes old, and at most
/// `every * 1.5` while the pace changes.
pub fn due(app: &str, last: DateTime<Utc>, now: DateTime<Utc>, every: u32) -> bool {
    if every <= 1 || last > now {
        return true;
    }
    let every = i64::from(every);
    let half = (every + 1) / 2;
    let age = now - last;
    let minute = now.timestamp().div_euclid(60);
    let on_its_minute = (minute + slot(app)).rem_euclid(every) == 0;
    (on_its_minute && age >= TimeDelta::minutes(half)) || age >= TimeDelta::minutes(every + half)
}

/// The longest a count can go unread at `every` minutes per read: the bound on
/// noticing a manual `ps:scale`.
pub fn staleness_bound(every: u32) -> u32 {
    if every <= 1 {
        return 1;
    }
    every + every.div_ceil(2)
}

/// A number fixed by the app's name, the same in every process: FNV-1a,
/// then MurmurHash3's finalizer (FNV alone leaves names that differ only in
/// their last digits bunched modulo small periods).
fn slot(app: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in app.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^= hash >> 33;
    (hash % (1 << 31)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_767_600_000 + minute * 60, 0).unwrap()
    }

    #[test]
    fn a_few_apps_are_read_every_minute() {
        let p = pace(10, Some(4400), 5);
        assert_eq!(p.read_every, 1);
        assert!(!p.paced());
        assert_eq!(p.full_rate_per_hour, 610);
    }

    #[test]
    fn seventy_five_apps_fit_only_while_the_pool_pays_the_difference() {
        // 4500 reads/hour + scales: the refill alone does not pay, the pool does.
        assert_eq!(pace(75, Some(4500), 10).read_every, 1);
        // Once the pool has run down, the reads spread out.
        assert_eq!(pace(75, Some(900), 10).read_every, 2);
    }

    #[test]
    fn five_hundred_apps_on_one_token_are_read_every_nine_minutes() {
        let p = pace(500, Some(4500), 0);
        // 30000 calls/hour at full rate; 3600 planned: 500 reads per 9 minutes.
        assert_eq!(p.read_every, 9);
        assert!(p.paced());
        assert!(60 * 500 / u64::from(p.read_every) <= HEROKU_CALLS_PER_HOUR - RESERVE_PER_HOUR);
        assert!(p.describe().contains("every 9 minutes"), "{}", p.describe());
    }

    #[test]
    fn scales_take_their_calls_from_the_reads() {
        assert_eq!(pace(500, Some(4500), 300).read_every, 10);
    }

    #[test]
    fn an_unknown_pool_is_taken_as_full() {
        assert_eq!(
            pace(500, None, 0),
            Pace {
                remaining: None,
                ..pace(500, Some(4500), 0)
            }
        );
        assert_eq!(pace(20, None, 0).read_every, 1);
    }

    #[test]
    fn a_pool_drained_by_others_slows_even_a_few_apps_down() {
        let p = pace(3, Some(4), 0);
        // 3600 * 4 / 900 = 16 calls an hour for 180 reads.
        assert_eq!(p.read_every, 12);
        assert_eq!(pace(3, Some(0), 0).read_every, MAX_READ_EVERY);
    }

    #[test]
    fn the_wait_is_bounded_whatever_the_budget() {
        assert_eq!(pace(100_000, Some(4500), 0).read_every, MAX_READ_EVERY);
    }

    #[test]
    fn each_app_is_due_once_per_period_on_its_own_minute() {
        let every = 9;
        for app in ["shop", "blog", "api-eu", "worker-7"] {
            // Read at minute 0 (a cold start reads every app), then paced.
            let mut last = at(0);
            let mut reads = Vec::new();
            for minute in 1..=60 {
                if due(app, last, at(minute), every) {
                    reads.push(minute);
                    last = at(minute);
                }
            }
            assert!(reads.len() >= 6 && reads.len() <= 7, "{app}: {reads:?}");
            let gaps: Vec<i64> = reads.windows(2).map(|w| w[1] - w[0]).collect();
            assert!(gaps.iter().all(|g| *g == 9), "{app}: {reads:?}");
            assert!(
                (5..14).contains(&reads[0]),
                "{app}: first read after half a period, within 1.5: {reads:?}"
            );
        }
    }

    #[test]
    fn apps_spread_over_the_period() {
        let every = 9;
        let mut per_minute = [0u32; 9];
        for i in 0..900 {
            let app = format!("app-{i}");
            // Read a period ago: due only on its own minute.
            for (m, count) in per_minute.iter_mut().enumerate() {
                let now = at(m as i64);
                if due(&app, now - TimeDelta::minutes(9), now, every) {
                    *count += 1;
                }
            }
        }
        // 100 apps a minute on average; no minute gets more than twice that.
        assert!(
            per_minute.iter().all(|c| *c > 50 && *c < 200),
            "{per_minute:?}"
        );
    }

    #[test]
    fn a_missed_minute_is_caught_up_and_a_future_read_is_not_trusted() {
        let every = 5;
        // Stale for a period and a half: due whatever the minute.
        assert!(due("shop", at(0), at(8), every));
        assert_eq!(staleness_bound(every), 8);
        assert_eq!(staleness_bound(MAX_READ_EVERY), 30);
        assert_eq!(staleness_bound(1), 1);
        // A stored read "from the future" (a clock or event-time problem) is not trusted.
        assert!(due("shop", at(10), at(3), every));
        // Without pacing every run reads.
        assert!(due("shop", at(3), at(3), 1));
    }
}
