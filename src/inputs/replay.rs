//! `replay`: load read from a recorded trace (CSV), by the `now` it is given.
//!
//! Lets a policy be tried live (`dynopilot run`) against traffic that really
//! happened, with no metrics account, and is the load input the simulator
//! feeds. Like every load API it answers for the last complete minute: at `now`
//! it returns the row of the minute before `now`'s minute. A minute with no
//! data, or one the trace does not cover, is a failed poll (missing data),
//! never zero load.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::{
    BuildContext, InputType, Measure, MetricSource, SourceError, SourceErrorKind, SourceSpec,
};
use crate::fields::{Fields, KeyDoc};
use crate::trace::Trace;

pub(super) const REPLAY: InputType = InputType {
    name: "replay",
    per_dyno_key: "per_dyno",
    default_per_dyno: None,
    parse,
    keys: &[
        KeyDoc::new("file", Some("unset"), "the CSV trace (`timestamp,value` per minute); required except under `simulate`, which feeds its own"),
        KeyDoc::new("starts_at", Some("unset"), "when the first row plays (RFC 3339); unset: rows play at their own times"),
    ],
    example: "file = \"tests/traces/nasa_http_1995_per_minute.csv\"",
    measure: Measure::Load,
    summary: "a recorded per-minute trace (CSV)",
};

/// Validated settings of a `replay` input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySpec {
    /// The CSV trace (`timestamp,value` rows, one per minute). Read when the
    /// source is built, so a missing file is reported at start, not every minute.
    /// Optional in the config: `simulate` feeds the input its own trace.
    pub file: Option<PathBuf>,
    /// When the trace's first row plays; `None`: rows play at their own timestamps.
    pub starts_at: Option<DateTime<Utc>>,
}

fn parse(fields: &mut Fields) -> Option<Box<dyn SourceSpec>> {
    let has_file = fields.has("file");
    let file = fields.opt_str("file");
    let starts_at = match fields.opt_str("starts_at") {
        None => Some(None),
        Some(text) => match DateTime::parse_from_rfc3339(&text) {
            Ok(at) => Some(Some(at.with_timezone(&Utc))),
            Err(_) => {
                fields.error(
                    "starts_at",
                    format!("{text:?} is not an RFC 3339 time like \"2026-11-22T09:00:00Z\""),
                );
                None
            }
        },
    };
    if has_file && file.as_deref().is_none_or(|f| f.trim().is_empty()) {
        fields.error("file", "must name a CSV trace");
        return None;
    }
    Some(Box::new(ReplaySpec {
        file: file.map(PathBuf::from),
        starts_at: starts_at?,
    }))
}

impl SourceSpec for ReplaySpec {
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        vec![
            (
                "file",
                self.file.as_ref().map(|f| f.display().to_string()).into(),
            ),
            (
                "starts_at",
                self.starts_at
                    .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .into(),
            ),
        ]
    }

    fn build(&self, _: &BuildContext<'_>) -> Result<Arc<dyn MetricSource>, String> {
        let file = self.file.as_ref().ok_or_else(|| {
            "file: is required to run a replay input (only `simulate` feeds it a trace of its own)"
                .to_string()
        })?;
        let trace = Trace::load(file).map_err(|e| format!("file: {e}"))?;
        let shift = self
            .starts_at
            .map_or(TimeDelta::zero(), |at| at - trace.start);
        Ok(Arc::new(ReplaySource::new(Arc::new(trace)).shifted(shift)))
    }
}

/// Answers with the trace's value of the minute before `now`'s minute.
#[derive(Debug, Clone)]
pub struct ReplaySource {
    trace: Arc<Trace>,
    /// Added to the trace's timestamps (`starts_at` − first row).
    shift: TimeDelta,
}

impl ReplaySource {
    pub fn new(trace: Arc<Trace>) -> Self {
        Self {
            trace,
            shift: TimeDelta::zero(),
        }
    }

    /// Play the trace `shift` later than its own timestamps.
    pub fn shifted(mut self, shift: TimeDelta) -> Self {
        self.shift = shift;
        self
    }

    /// The value for `now`: the last complete minute's row.
    ///
    /// # Errors
    /// [`SourceErrorKind::Empty`] when the trace has no data for that minute.
    pub fn value_at(&self, now: DateTime<Utc>) -> Result<f64, SourceError> {
        let minute = now
            .duration_trunc(TimeDelta::minutes(1))
            .unwrap_or(now)
            .checked_sub_signed(TimeDelta::minutes(1) + self.shift);
        let no_data = |why: &str| {
            SourceError::new(
                SourceErrorKind::Empty,
                format!(
                    "{why} for the minute before {}",
                    now.format("%Y-%m-%dT%H:%M:%SZ")
                ),
            )
        };
        let index = minute
            .and_then(|m| self.trace.index_of(m))
            .ok_or_else(|| no_data("the trace does not cover the minute"))?;
        self.trace.values[index].ok_or_else(|| no_data("the trace has no data"))
    }
}

#[async_trait]
impl MetricSource for ReplaySource {
    async fn fetch(&self, now: DateTime<Utc>) -> Result<f64, SourceError> {
        self.value_at(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace() -> Arc<Trace> {
        Arc::new(
            Trace::parse("m,r\n2026-01-05 10:00,5\n2026-01-05 10:01,\n2026-01-05 10:02,9\n")
                .unwrap(),
        )
    }

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 1, 5, h, m, s).unwrap()
    }

    #[test]
    fn answers_with_the_last_complete_minute() {
        let source = ReplaySource::new(trace());
        assert_eq!(source.value_at(at(10, 1, 0)), Ok(5.0));
        assert_eq!(source.value_at(at(10, 3, 59)), Ok(9.0));
    }

    #[test]
    fn a_minute_without_data_or_outside_the_trace_is_a_failed_poll() {
        let source = ReplaySource::new(trace());
        let gap = source.value_at(at(10, 2, 0)).unwrap_err();
        assert_eq!(gap.kind, SourceErrorKind::Empty);
        assert!(gap.message.contains("no data"), "{gap}");
        let outside = source.value_at(at(10, 0, 0)).unwrap_err();
        assert!(outside.message.contains("does not cover"), "{outside}");
    }

    #[test]
    fn a_shifted_trace_plays_from_starts_at() {
        let source = ReplaySource::new(trace()).shifted(TimeDelta::hours(2));
        assert_eq!(source.value_at(at(12, 1, 0)), Ok(5.0));
    }
}
