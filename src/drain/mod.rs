//! The log-drain core: Logplex POST bodies to per-minute numbers. Pure: no
//! I/O, no clock (minutes come from the frames' own timestamps).
//!
//! ```text
//! frames.rs     octet-counted frame iterator (RFC 6587 over RFC 5424 w/o SD)
//! lines.rs      classify one frame: router, runtime metrics, HireFire queue, L10, skipped
//! histogram.rs  mergeable log-bucket histogram (quantiles within 4 %)
//! aggregate.rs  MinuteAggregate (one process type), AppMinute (one app), Batch;
//!               additive counters and their stored attribute names
//! ```
//!
//! [`parse_body`] turns one POST body into a [`Batch`]; the receiver stores
//! each minute's [`AppMinute::counters`] by adding them.

pub mod aggregate;
pub mod frames;
pub mod histogram;
pub mod lines;

pub use aggregate::{AppMinute, Batch, MinuteAggregate};

use lines::{Line, Skip};

/// Parse a whole body. Never panics; work and memory are bounded by the
/// body's length and the caps in [`frames`] (at most [`frames::MAX_FRAMES`]
/// frames) and [`aggregate::MAX_TYPES_PER_MINUTE`].
pub fn parse_body(body: &[u8]) -> Batch {
    let mut batch = Batch::default();
    for item in frames::frames(body) {
        let frame = match item {
            Ok(frame) => frame,
            Err(_) => {
                batch.rejected = batch.rejected.saturating_add(1);
                continue;
            }
        };
        batch.frames = batch.frames.saturating_add(1);
        let minute = batch.minute_mut(frame.timestamp);
        minute.frames = minute.frames.saturating_add(1);
        let counted = match lines::classify(&frame) {
            Line::Router(line) => match line.process_type {
                None => {
                    minute.unattributed.record_router(&line);
                    true
                }
                Some(ty) => minute
                    .type_mut(ty)
                    .map(|agg| agg.record_router(&line))
                    .is_some(),
            },
            Line::Runtime(line) => minute
                .type_mut(line.process_type)
                .map(|agg| {
                    if let Some(load) = line.load_1m_x100 {
                        agg.record_load(load);
                    }
                    if let Some(total) = line.memory_total_mb {
                        agg.record_memory(total, line.memory_quota_mb);
                    }
                })
                .is_some(),
            Line::Queue { process_type, ms } => minute
                .type_mut(process_type)
                .map(|agg| agg.record_queue(ms))
                .is_some(),
            Line::L10 { dropped } => {
                minute.l10_dropped = minute.l10_dropped.saturating_add(dropped);
                true
            }
            Line::Skipped(
                Skip::NotAggregated | Skip::OneOff | Skip::UnknownDyno | Skip::BadValue,
            ) => false,
        };
        if !counted {
            minute.skipped = minute.skipped.saturating_add(1);
            batch.skipped = batch.skipped.saturating_add(1);
        }
    }
    batch
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
