//! The invocation's deadline, shared out between the steps.
//!
//! On Lambda the function is killed at its deadline, whatever it is doing; an
//! invocation killed before its last write loses the window it polled and,
//! worse, the record of a scale it made. So every step that waits on the
//! outside world (the store, inputs, Heroku, SES, the heartbeat) is bounded by
//! what remains, and the steps are cut in an order that always leaves time for
//! the last save:
//!
//! ```text
//! start ─ load ─ poll ─────────── read ─ claim ─ scale ── notify ─┬ SAVE_RESERVE ┬ MARGIN ┬ deadline
//!                     └ PLATFORM_RESERVE (or half the time left) ┘ record, heartbeat ─────┘
//! ```
//!
//! Each adapter keeps its own timeouts and retry budget (the Heroku scaler's,
//! an input's `timeout`); the cut here is the outer bound. A read that is cut
//! is an error like any failed read; a scale call that is cut may or may not
//! have reached Heroku, so its claim stays stored and the next run settles it
//! from the platform's count.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// Kept back from the deadline for the store writes that end a run (the claim's
/// record, or the only save) and the heartbeat. A DynamoDB write takes tens of
/// milliseconds; this covers its retries too.
pub const SAVE_RESERVE: Duration = Duration::from_secs(2);
/// Kept back after polling for reading the formation and scaling it, when the
/// time allows (else half of what is left).
pub const PLATFORM_RESERVE: Duration = Duration::from_secs(8);
/// Kept back after the formation read for the scale call (else half).
pub const SCALE_RESERVE: Duration = Duration::from_secs(4);
/// The last writes end this long before the deadline, so the report still goes out.
pub const MARGIN: Duration = Duration::from_millis(250);

/// When the invocation must be done, if it has a deadline (the Lambda's; the
/// CLI and the simulator have none).
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadline(pub Option<Instant>);

impl Deadline {
    /// Time left until `reserve` before the deadline (zero once past it).
    fn left(self, reserve: Duration) -> Option<Duration> {
        self.0.map(|end| {
            end.checked_sub(reserve).map_or(Duration::ZERO, |until| {
                until.saturating_duration_since(Instant::now())
            })
        })
    }

    /// How long the inputs may take: `configured` (the config's
    /// `fetch_deadline`), cut so that the platform steps and the save keep
    /// their time.
    pub fn poll_budget(self, configured: Duration) -> Duration {
        let Some(work) = self.left(SAVE_RESERVE) else {
            return configured;
        };
        let keep = PLATFORM_RESERVE.min(work / 2);
        configured.min(work.saturating_sub(keep))
    }

    /// Run a formation read: it must leave time for the scale call and the save.
    pub async fn read<F: Future>(self, f: F) -> Result<F::Output, Duration> {
        let keep = self
            .left(SAVE_RESERVE)
            .map_or(Duration::ZERO, |work| SCALE_RESERVE.min(work / 2));
        self.run(SAVE_RESERVE + keep, f).await
    }

    /// Run a step that must end before the final save (scale, notify, load).
    pub async fn before_save<F: Future>(self, f: F) -> Result<F::Output, Duration> {
        self.run(SAVE_RESERVE, f).await
    }

    /// Run a final step (a store write, the heartbeat).
    pub async fn last<F: Future>(self, f: F) -> Result<F::Output, Duration> {
        self.run(MARGIN, f).await
    }

    /// `f`, cut at `reserve` before the deadline: `Err(time it was given)`.
    async fn run<F: Future>(self, reserve: Duration, f: F) -> Result<F::Output, Duration> {
        match self.left(reserve) {
            None => Ok(f.await),
            Some(given) => tokio::time::timeout(given, f).await.map_err(|_| given),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_poll_budget_leaves_time_for_the_platform_and_the_save() {
        let in_30s = Deadline(Some(Instant::now() + Duration::from_secs(30)));
        // 30 s: 2 s for saving, 8 s for Heroku, so polls get 20 s of their 25.
        assert_eq!(
            in_30s.poll_budget(Duration::from_secs(25)),
            Duration::from_secs(20)
        );
        // 6 s: 4 s of work, half of it for Heroku.
        let in_6s = Deadline(Some(Instant::now() + Duration::from_secs(6)));
        assert_eq!(
            in_6s.poll_budget(Duration::from_secs(25)),
            Duration::from_secs(2)
        );
        // Past the deadline: nothing.
        let past = Deadline(Some(Instant::now()));
        assert_eq!(past.poll_budget(Duration::from_secs(25)), Duration::ZERO);
        // No deadline: the configured time.
        assert_eq!(
            Deadline(None).poll_budget(Duration::from_secs(25)),
            Duration::from_secs(25)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_that_hangs_is_cut_before_the_save_reserve() {
        let deadline = Deadline(Some(Instant::now() + Duration::from_secs(10)));
        let started = Instant::now();
        let cut = deadline
            .before_save(std::future::pending::<()>())
            .await
            .expect_err("cut");
        assert_eq!(cut, Duration::from_secs(8));
        assert_eq!(started.elapsed(), Duration::from_secs(8));
        // The read keeps SCALE_RESERVE for the scale call.
        let deadline = Deadline(Some(Instant::now() + Duration::from_secs(10)));
        let cut = deadline
            .read(std::future::pending::<()>())
            .await
            .expect_err("cut");
        assert_eq!(cut, Duration::from_secs(4));
    }
}
