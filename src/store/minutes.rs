//! A formation's per-minute record as stored: one hour per [`HourBlock`],
//! columnar. The formation's state buffers the current hour
//! ([`super::FormationState::minutes`]); `crate::history` stores finished hours.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// Most unflushed hours a formation's state buffers (a store down for longer
/// loses the oldest hours, not the state item's size bound).
pub const MAX_BUFFERED_HOURS: usize = 3;

/// A scale that happened in a minute, with the decision's reason code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleMark {
    /// Minute offset within the block's hour.
    pub minute: u8,
    pub from: u32,
    pub to: u32,
    /// The decision's reason code (`load_above`, `load_below`, ...).
    pub code: String,
}

/// One hour (or the part of it recorded so far) of a formation's minutes, as
/// columns of equal length: row `r` is minute `hour + minute[r]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HourBlock {
    /// The hour's start (minute 0, UTC).
    pub hour: DateTime<Utc>,
    /// Minute offsets within the hour, increasing.
    #[serde(default)]
    pub minute: Vec<u8>,
    /// Dynos running as the run saw them (`None`: the count was not known).
    #[serde(default)]
    pub quantity: Vec<Option<u32>>,
    /// The decided target (`None`: no decision that minute).
    #[serde(default)]
    pub target: Vec<Option<u32>>,
    /// Load the running dynos can serve (quantity × the `capacity` rule's
    /// load per dyno), when known.
    #[serde(default)]
    pub capacity: Vec<Option<f64>>,
    /// Per input: the value polled that minute, `None` when missing (not
    /// polled, or the poll failed).
    #[serde(default)]
    pub inputs: BTreeMap<String, Vec<Option<f64>>>,
    /// Scales made in this hour.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scales: Vec<ScaleMark>,
}

/// One minute of a formation, as [`read_minutes`] returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MinuteRecord {
    pub at: DateTime<Utc>,
    /// Each input's value, `None` when missing.
    pub inputs: BTreeMap<String, Option<f64>>,
    pub quantity: Option<u32>,
    pub target: Option<u32>,
    pub capacity: Option<f64>,
    /// The scale made in this minute, if any.
    pub scale: Option<ScaleMark>,
}

/// What one run records about its minute.
#[derive(Debug, Clone, PartialEq)]
pub struct MinuteInput {
    pub at: DateTime<Utc>,
    pub inputs: Vec<(String, Option<f64>)>,
    pub quantity: Option<u32>,
    pub target: Option<u32>,
    pub capacity: Option<f64>,
}

/// The start of `at`'s hour.
pub fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(TimeDelta::hours(1)).unwrap_or(at)
}

impl HourBlock {
    pub fn new(hour: DateTime<Utc>) -> Self {
        Self {
            hour: hour_of(hour),
            ..Self::default()
        }
    }

    pub fn len(&self) -> usize {
        self.minute.len()
    }

    pub fn is_empty(&self) -> bool {
        self.minute.is_empty()
    }

    /// Append one minute (a repeated or earlier minute of the block is
    /// ignored: a duplicate run records nothing twice). Inputs first seen in
    /// this minute get a column of `None` before it; inputs absent from this
    /// minute get `None`.
    pub fn push(&mut self, m: &MinuteInput) {
        if hour_of(m.at) != self.hour {
            return;
        }
        let offset = m.at.minute() as u8;
        if self.minute.last().is_some_and(|&last| last >= offset) {
            return;
        }
        let rows = self.minute.len();
        self.minute.push(offset);
        self.quantity.push(m.quantity);
        self.target.push(m.target);
        self.capacity.push(m.capacity);
        for (name, value) in &m.inputs {
            let column = self
                .inputs
                .entry(name.clone())
                .or_insert_with(|| vec![None; rows]);
            column.push(*value);
        }
        for column in self.inputs.values_mut() {
            column.resize(rows + 1, None);
        }
    }

    /// Mark the scale made in the newest minute.
    pub fn mark_scale(&mut self, at: DateTime<Utc>, from: u32, to: u32, code: &str) {
        if hour_of(at) != self.hour {
            return;
        }
        let minute = at.minute() as u8;
        self.scales.retain(|s| s.minute != minute);
        self.scales.push(ScaleMark {
            minute,
            from,
            to,
            code: code.to_string(),
        });
    }

    /// The block as minute records, oldest first (short columns, from a
    /// hand-edited file, read as missing).
    pub fn records(&self) -> Vec<MinuteRecord> {
        self.minute
            .iter()
            .enumerate()
            .map(|(r, &m)| MinuteRecord {
                at: self.hour + TimeDelta::minutes(i64::from(m)),
                inputs: self
                    .inputs
                    .iter()
                    .map(|(name, column)| (name.clone(), column.get(r).copied().flatten()))
                    .collect(),
                quantity: self.quantity.get(r).copied().flatten(),
                target: self.target.get(r).copied().flatten(),
                capacity: self.capacity.get(r).copied().flatten(),
                scale: self.scales.iter().find(|s| s.minute == m).cloned(),
            })
            .collect()
    }
}

/// Append `minute` to a formation's buffer (a new block when the hour
/// changed), keeping at most [`MAX_BUFFERED_HOURS`] blocks.
pub fn buffer_minute(buffer: &mut Vec<HourBlock>, minute: &MinuteInput) {
    let hour = hour_of(minute.at);
    if buffer.last().is_none_or(|b| b.hour < hour) {
        buffer.push(HourBlock::new(hour));
    }
    if let Some(block) = buffer.iter_mut().find(|b| b.hour == hour) {
        block.push(minute);
    }
    if buffer.len() > MAX_BUFFERED_HOURS {
        let excess = buffer.len() - MAX_BUFFERED_HOURS;
        buffer.drain(..excess);
    }
}

/// The buffered blocks of hours before `now`'s: the ones to flush.
pub fn finished(buffer: &[HourBlock], now: DateTime<Utc>) -> usize {
    let hour = hour_of(now);
    buffer.iter().take_while(|b| b.hour < hour).count()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, h, m, 0).unwrap()
    }

    fn minute(at: DateTime<Utc>, rpm: Option<f64>, q: u32) -> MinuteInput {
        MinuteInput {
            at,
            inputs: vec![("rpm".into(), rpm)],
            quantity: Some(q),
            target: Some(q),
            capacity: Some(f64::from(q) * 40.0),
        }
    }

    #[test]
    fn minutes_go_to_their_hour_block_and_read_back_in_order() {
        let mut buffer = Vec::new();
        buffer_minute(&mut buffer, &minute(at(10, 58), Some(80.0), 2));
        buffer_minute(&mut buffer, &minute(at(10, 59), None, 2));
        buffer_minute(&mut buffer, &minute(at(11, 0), Some(120.0), 3));
        buffer[1].mark_scale(at(11, 0), 2, 3, "load_above");
        assert_eq!(buffer.len(), 2);
        assert_eq!(finished(&buffer, at(11, 0)), 1);
        let records: Vec<MinuteRecord> = buffer.iter().flat_map(HourBlock::records).collect();
        assert_eq!(records.len(), 3);
        assert_eq!(records[1].inputs["rpm"], None);
        assert_eq!(records[2].at, at(11, 0));
        assert_eq!(records[2].inputs["rpm"], Some(120.0));
        assert_eq!(
            records[2].scale.as_ref().map(|s| s.code.as_str()),
            Some("load_above")
        );
        assert_eq!(records[0].scale, None);
    }

    #[test]
    fn a_repeated_minute_is_recorded_once_and_new_inputs_are_padded() {
        let mut block = HourBlock::new(at(9, 0));
        block.push(&minute(at(9, 1), Some(1.0), 1));
        block.push(&minute(at(9, 1), Some(2.0), 1));
        let mut two = minute(at(9, 2), Some(3.0), 1);
        two.inputs.push(("queue".into(), Some(7.0)));
        block.push(&two);
        block.push(&minute(at(9, 3), Some(4.0), 1));
        assert_eq!(block.minute, vec![1, 2, 3]);
        assert_eq!(block.inputs["rpm"], vec![Some(1.0), Some(3.0), Some(4.0)]);
        assert_eq!(block.inputs["queue"], vec![None, Some(7.0), None]);
    }

    #[test]
    fn the_buffer_is_bounded() {
        let mut buffer = Vec::new();
        for h in 0..6 {
            buffer_minute(&mut buffer, &minute(at(h, 0), Some(1.0), 1));
        }
        assert_eq!(buffer.len(), MAX_BUFFERED_HOURS);
        assert_eq!(buffer[0].hour, at(3, 0));
    }

    #[test]
    fn a_block_of_an_hour_is_compact() {
        let mut block = HourBlock::new(at(9, 0));
        for m in 0..60 {
            block.push(&minute(at(9, m), Some(1234.5), 12));
        }
        let bytes = serde_json::to_string(&block).unwrap().len();
        assert!(bytes < 60 * 32, "{bytes} bytes for an hour");
    }
}
