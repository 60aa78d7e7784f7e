//! A load trace: one value per minute, some minutes without data.
//!
//! The CSV shape is the one traffic archives are usually aggregated to: a header
//! line (its names are not interpreted), then `timestamp,value` rows, one per
//! minute, `YYYY-MM-DD HH:MM` (or RFC 3339). An empty value is a minute with no
//! data — a logging gap or an outage — which is not the same as zero demand, so
//! it stays `None` all the way to the inputs (they fail that minute).
//!
//! Timestamps are read as UTC: a trace recorded in local time keeps its shape,
//! only schedules (`min`/`max` by time of day) see it shifted.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, DurationRound, NaiveDateTime, TimeDelta, Utc};

/// Minutes of load, oldest first, without holes in time (a gap in the file's
/// timestamps becomes minutes with no data).
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Start of the first minute.
    pub start: DateTime<Utc>,
    /// One entry per minute from `start`; `None` = no data for that minute.
    pub values: Vec<Option<f64>>,
}

/// Why a trace could not be read; always names the line.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    #[error("cannot read trace {path}: {message}")]
    Read { path: String, message: String },
    #[error("trace line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("trace has no data rows (a header line, then `timestamp,value` rows)")]
    Empty,
}

impl Trace {
    /// Read a CSV trace file.
    ///
    /// # Errors
    /// [`TraceError`] naming the file or the first bad line.
    pub fn load(path: &Path) -> Result<Self, TraceError> {
        let text = std::fs::read_to_string(path).map_err(|e| TraceError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::parse(&text)
    }

    /// Parse CSV text: a header line, then `timestamp,value` rows.
    ///
    /// # Errors
    /// [`TraceError`] for a bad timestamp or value, or rows out of order.
    pub fn parse(text: &str) -> Result<Self, TraceError> {
        let mut start: Option<DateTime<Utc>> = None;
        let mut values: Vec<Option<f64>> = Vec::new();
        for (i, raw) in text.lines().enumerate().skip(1) {
            let line = i + 1;
            let row = raw.trim();
            if row.is_empty() {
                continue;
            }
            let err = |message: String| TraceError::Line { line, message };
            let (stamp, value) = row
                .split_once(',')
                .ok_or_else(|| err(format!("expected `timestamp,value`, found {row:?}")))?;
            let at = parse_minute(stamp.trim())
                .ok_or_else(|| err(format!("{stamp:?} is not a minute like 1995-07-01 00:00")))?;
            let value = value.trim();
            let value = if value.is_empty() {
                None
            } else {
                match value.parse::<f64>() {
                    Ok(v) if v.is_finite() && v >= 0.0 => Some(v),
                    _ => return Err(err(format!("{value:?} is not a load (a number >= 0)"))),
                }
            };
            let first = *start.get_or_insert(at);
            let index = (at - first).num_minutes();
            let expected = values.len() as i64;
            if index < expected {
                return Err(err(format!(
                    "{stamp} is not after the previous row: rows must be in time order, one per minute"
                )));
            }
            // A gap in the timestamps: those minutes had no data.
            values.resize(index as usize, None);
            values.push(value);
        }
        match start {
            Some(start) => Ok(Self { start, values }),
            None => Err(TraceError::Empty),
        }
    }

    /// Number of minutes.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Start of minute `index`.
    pub fn minute(&self, index: usize) -> DateTime<Utc> {
        self.start + TimeDelta::minutes(index as i64)
    }

    /// The index of the minute holding `at`, if the trace covers it.
    pub fn index_of(&self, at: DateTime<Utc>) -> Option<usize> {
        if at < self.start {
            return None;
        }
        let index = usize::try_from((at - self.start).num_minutes()).ok()?;
        (index < self.values.len()).then_some(index)
    }

    /// `len` minutes from `from` (clipped to the trace).
    pub fn slice(&self, from: usize, len: usize) -> Self {
        let from = from.min(self.values.len());
        let to = from.saturating_add(len).min(self.values.len());
        Self {
            start: self.minute(from),
            values: self.values[from..to].to_vec(),
        }
    }

    /// The trace as CSV, in the shape [`Trace::parse`] reads.
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(self.values.len() * 24);
        out.push_str("minute,value\n");
        for (i, v) in self.values.iter().enumerate() {
            let _ = write!(out, "{},", self.minute(i).format("%Y-%m-%d %H:%M"));
            if let Some(v) = v {
                let _ = write!(out, "{v}");
            }
            out.push('\n');
        }
        out
    }
}

/// `YYYY-MM-DD HH:MM` (seconds allowed) as UTC, or RFC 3339; cut to the minute.
pub fn parse_minute(text: &str) -> Option<DateTime<Utc>> {
    let at = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S"))
        .map(|n| n.and_utc())
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|d| d.with_timezone(&Utc))
        })?;
    at.duration_trunc(TimeDelta::minutes(1)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_minutes_without_data_and_gaps_are_filled_with_none() {
        let trace = Trace::parse(
            "minute,requests\n2026-01-05 10:00,5\n2026-01-05 10:01,\n2026-01-05 10:03,7.5\n",
        )
        .unwrap();
        assert_eq!(trace.values, vec![Some(5.0), None, None, Some(7.5)]);
        assert_eq!(trace.minute(3).format("%H:%M").to_string(), "10:03");
    }

    #[test]
    fn a_bad_row_is_reported_with_its_line_number() {
        let err =
            Trace::parse("minute,requests\n2026-01-05 10:00,5\n2026-01-05 10:01,-3\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "trace line 3: \"-3\" is not a load (a number >= 0)"
        );
        let err = Trace::parse("m,r\n2026-01-05 10:01,5\n2026-01-05 10:00,5\n").unwrap_err();
        assert!(err.to_string().starts_with("trace line 3: "), "{err}");
    }

    #[test]
    fn csv_round_trips() {
        let trace = Trace::parse("m,r\n2026-01-05 10:00,5\n2026-01-05 10:01,\n").unwrap();
        assert_eq!(Trace::parse(&trace.to_csv()).unwrap(), trace);
    }
}
