//! Formations with a size ladder, against the app's generation.
//!
//! Heroku refuses Cedar size names on a Fir app and the reverse. The config
//! check catches a ladder that mixes the two; which generation the app runs
//! is known only to the platform. So when a run reads the formation of an
//! app that has a formation with `sizes`, it reads the app too (once per app
//! per run, side by side with the formation read; not at all for an app
//! whose reads are paced this run, until a scale would need one) and checks
//! every ladder of the app against the generation:
//!
//! - a size of the other generation: the formation is not scaled; the
//!   report names the app, its generation and the offending sizes
//!   (`sizes`/`generation_mismatch`), and a `scale_failed` episode mails it
//!   once (a reminder every `renotify_after`, one when resolved);
//! - no `generation` in Heroku's answer: taken as Cedar (apps from before
//!   generations existed are Cedar), and the report says so;
//! - a generation dynopilot does not know: not checked, and the report says so;
//! - the app cannot be read: the formation is not scaled this run (no scale
//!   on a guess), as when its formation cannot be read.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;

use super::deadline::Deadline;
use super::{platform_cut, Work};
use crate::domain::sizes::{check_generation, Generation};
use crate::notify::episodes::ScaleAttempt;
use crate::scaler::{AppGeneration, ScaleError, ScaleErrorKind, Scaler};

/// Where a sized formation stands against its app's generation in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum SizeCheck {
    /// Not read in this run (yet).
    #[default]
    Unchecked,
    /// Its sizes may run on the app (or there is nothing to check).
    Fits,
    /// No sized decision in this run: the sizes do not fit, or the app
    /// could not be read.
    Blocked,
}

type Reads = BTreeMap<String, Result<Option<AppGeneration>, ScaleError>>;

/// The apps among `apps` whose generation this run still needs: one with a
/// live formation with `sizes` that was not checked yet.
pub(super) fn wanted(work: &[Work<'_>], apps: &BTreeSet<&str>) -> Vec<String> {
    let wanted: BTreeSet<&str> = work
        .iter()
        .filter(|w| w.live && w.config.sizes.is_some() && w.generation == SizeCheck::Unchecked)
        .map(|w| w.config.app.as_str())
        .filter(|app| apps.contains(app))
        .collect();
    wanted.into_iter().map(str::to_string).collect()
}

/// One read per app, side by side.
pub(super) async fn read(scaler: &dyn Scaler, apps: &[String], deadline: Deadline) -> Reads {
    let reads = apps.iter().map(|app| async move {
        let read = deadline
            .read(scaler.generation(app))
            .await
            .unwrap_or_else(|given| Err(platform_cut("reading the app", given)));
        (app.clone(), read)
    });
    join_all(reads).await.into_iter().collect()
}

/// Check each live sized formation of a read app whose count was read.
pub(super) fn apply(work: &mut [Work<'_>], reads: &Reads) {
    for w in work.iter_mut().filter(|w| {
        w.live
            && w.current.is_some()
            && w.generation == SizeCheck::Unchecked
            && w.config.sizes.is_some()
    }) {
        let Some(read) = reads.get(&w.config.app) else {
            continue;
        };
        w.generation = check(w, read);
    }
}

fn check(w: &mut Work<'_>, read: &Result<Option<AppGeneration>, ScaleError>) -> SizeCheck {
    let app = w.config.app.clone();
    let (generation, shown) = match read {
        Err(e) => {
            w.fail(
                "read_app",
                e.kind.as_str().into(),
                format!(
                    "{}; sizes cannot be checked against the app's generation: nothing scaled this run",
                    e.message
                ),
            );
            return SizeCheck::Blocked;
        }
        // The platform has no generations.
        Ok(None) => return SizeCheck::Fits,
        Ok(Some(AppGeneration::Unreported)) => {
            w.notes.push(format!(
                "Heroku's answer for app {app} has no generation: taken as Cedar (apps from before generations are Cedar)"
            ));
            (
                Generation::Cedar,
                "not reported, taken as Cedar".to_string(),
            )
        }
        Ok(Some(AppGeneration::Named(name))) => match Generation::parse(name) {
            Some(g) => (g, format!("{name:?} as Heroku reports it")),
            None => {
                w.notes.push(format!(
                    "app {app} reports generation {name:?}, which dynopilot does not know: sizes not checked against it"
                ));
                return SizeCheck::Fits;
            }
        },
    };
    let Some(ladder) = &w.config.sizes else {
        return SizeCheck::Fits;
    };
    let names: Vec<&str> = ladder.steps.iter().map(|s| s.name.as_str()).collect();
    match check_generation(&names, generation) {
        Ok(()) => SizeCheck::Fits,
        Err(why) => {
            let message = format!(
                "app {app} (generation {shown}): {why}; nothing scaled until sizes match the app's generation"
            );
            w.fail("sizes", "generation_mismatch".into(), message.clone());
            w.scale = Some(ScaleAttempt::Failed(ScaleError::new(
                ScaleErrorKind::Rejected,
                format!("refused before asking Heroku, which would refuse it too: {message}"),
            )));
            SizeCheck::Blocked
        }
    }
}
