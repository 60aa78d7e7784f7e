//! Per-minute aggregates: everything is an additive counter.
//!
//! A minute of an app's logs arrives spread over many POSTs; each POST's
//! [`Batch`] is stored with DynamoDB `UpdateItem ... ADD` (or added into the
//! file store), never read-modify-write. So every aggregate is a set of
//! named non-negative integer counters, and merging is adding.
//!
//! # Attribute names (stable: they are stored)
//!
//! [`MinuteAggregate::counters`] (one process type, one minute). Only
//! non-zero counters are written; a missing name means 0.
//!
//! | Name | Counts |
//! |---|---|
//! | `rq` | router lines (requests, errors included) |
//! | `s1` … `s5` | router lines with status 1xx … 5xx (other statuses: none) |
//! | `e_hNN` | router lines with `code=HNN` (two digits, e.g. `e_h12`) |
//! | `sv_z`, `sv_<i>` | `service` ms histogram: zero, bucket i (see [`histogram`](super::histogram)) |
//! | `cn_z`, `cn_<i>` | `connect` ms histogram |
//! | `qu_z`, `qu_<i>` | HireFire `[hirefire:router] queue=Nms` histogram (ms) |
//! | `ld_z`, `ld_<i>` | runtime `sample#load_avg_1m` × 100 histogram (one sample per line) |
//! | `lds` | sum of `load_avg_1m` × 100 over those samples (mean = `lds` / count / 100) |
//! | `mr_z`, `mr_<i>` | `memory_total / memory_quota` in per-mille (lines with a quota) |
//! | `mt_z`, `mt_<i>` | `memory_total` in whole MB (every memory line) |
//!
//! [`AppMinute::counters`] (one app, one minute) holds:
//!
//! | Name | Counts |
//! |---|---|
//! | `fr` | frames of the app in this minute (any kind): > 0 means the minute is not missing |
//! | `l10` | messages Logplex said it dropped (L10): > 0 means the counts are a lower bound |
//! | `skip` | frames parsed but not aggregated (app output, dyno state changes, one-off dynos, …) |
//! | the names above, unprefixed | router lines with an empty `dyno=` (H10, H11, H14, …: no process type reached) |
//! | `<type>.<name>` | the names above for process type `<type>`, e.g. `web.rq`, `web.sv_17`, `worker.ld_42` |
//!
//! `<type>` is Heroku's process type verbatim: 1–32 bytes of ASCII letters,
//! digits, `_` and `-` ([`valid_process_type`]); every other part is ASCII
//! `[a-z0-9_]`. No name is `pk`, `sk` or `ttl`, and none starts with an
//! uppercase letter, so a store may keep its own attributes beside them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::histogram::Histogram;
use super::lines::RouterLine;

/// At most this many process types per app and minute; lines of further
/// types are counted as skipped (bounds the stored item's size).
pub const MAX_TYPES_PER_MINUTE: usize = 32;

/// Longest process type name accepted.
pub const MAX_TYPE_LEN: usize = 32;

/// Capacity error codes: the dynos could not take the request
/// (H10–H13, H19–H22, H99). H27 (client went away) and H80–H82
/// (maintenance, blank app, dyno hours used up) are not.
pub const CAPACITY_CODES: [u8; 9] = [10, 11, 12, 13, 19, 20, 21, 22, 99];

/// Heroku process type names: letters, digits, `_`, `-`; 1–32 bytes.
pub fn valid_process_type(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_TYPE_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// One process type's numbers for one minute.
#[derive(Default, Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MinuteAggregate {
    /// Router lines (one per request, error lines included).
    requests: u64,
    /// Router lines by status class 1xx..5xx.
    status: [u64; 5],
    /// Router lines by H code number (`code=H12` -> 12).
    errors: BTreeMap<u8, u64>,
    /// `service` ms: includes queueing inside the dyno; not queue time.
    service: Histogram,
    /// `connect` ms: TCP connect to the dyno.
    connect: Histogram,
    /// HireFire app line queue time, ms.
    queue: Histogram,
    /// `load_avg_1m` × 100, one sample per runtime line.
    load: Histogram,
    /// Sum of the `load` samples (× 100), for an exact mean.
    load_sum: u64,
    /// `memory_total / memory_quota` in per-mille.
    memory_ratio: Histogram,
    /// `memory_total` in whole MB.
    memory_total: Histogram,
}

fn add(a: &mut u64, b: u64) {
    *a = a.saturating_add(b);
}

impl MinuteAggregate {
    /// Count one router line.
    pub fn record_router(&mut self, line: &RouterLine<'_>) {
        add(&mut self.requests, 1);
        if let Some(status) = line.status {
            if (100..600).contains(&status) {
                add(&mut self.status[usize::from(status / 100 - 1)], 1);
            }
        }
        if let Some(code) = line.code {
            add(self.errors.entry(code).or_insert(0), 1);
        }
        if let Some(ms) = line.service_ms {
            self.service.record(ms);
        }
        if let Some(ms) = line.connect_ms {
            self.connect.record(ms);
        }
    }

    /// Count one `load_avg_1m` sample, in hundredths.
    pub fn record_load(&mut self, load_x100: u64) {
        self.load.record(load_x100);
        add(&mut self.load_sum, load_x100);
    }

    /// Count one memory sample: `memory_total` and, when known, `memory_quota` (MB).
    pub fn record_memory(&mut self, total_mb: f64, quota_mb: Option<f64>) {
        if !(total_mb.is_finite() && total_mb >= 0.0) {
            return;
        }
        self.memory_total.record(total_mb.round() as u64);
        if let Some(quota) = quota_mb.filter(|q| q.is_finite() && *q > 0.0) {
            let per_mille = (total_mb / quota * 1000.0).round();
            self.memory_ratio.record(per_mille as u64);
        }
    }

    /// Count one HireFire queue time sample (ms).
    pub fn record_queue(&mut self, ms: u64) {
        self.queue.record(ms);
    }

    /// Add every counter of `other`.
    pub fn merge(&mut self, other: &MinuteAggregate) {
        add(&mut self.requests, other.requests);
        for (a, b) in self.status.iter_mut().zip(other.status) {
            add(a, b);
        }
        for (&code, &n) in &other.errors {
            add(self.errors.entry(code).or_insert(0), n);
        }
        self.service.merge(&other.service);
        self.connect.merge(&other.connect);
        self.queue.merge(&other.queue);
        self.load.merge(&other.load);
        add(&mut self.load_sum, other.load_sum);
        self.memory_ratio.merge(&other.memory_ratio);
        self.memory_total.merge(&other.memory_total);
    }

    /// True when nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.counters().is_empty()
    }

    /// Flat counters for storage (names in the module doc), only those > 0.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        self.write_counters("", &mut out);
        out
    }

    /// The counters, each name prefixed with `prefix`.
    fn write_counters(&self, prefix: &str, out: &mut BTreeMap<String, u64>) {
        let mut put = |name: String, n: u64| {
            if n > 0 {
                out.insert(format!("{prefix}{name}"), n);
            }
        };
        put("rq".into(), self.requests);
        for (i, &n) in self.status.iter().enumerate() {
            put(format!("s{}", i + 1), n);
        }
        for (&code, &n) in &self.errors {
            put(format!("e_h{code:02}"), n);
        }
        put("lds".into(), self.load_sum);
        let mut hist = BTreeMap::new();
        self.service.write_counters("sv", &mut hist);
        self.connect.write_counters("cn", &mut hist);
        self.queue.write_counters("qu", &mut hist);
        self.load.write_counters("ld", &mut hist);
        self.memory_ratio.write_counters("mr", &mut hist);
        self.memory_total.write_counters("mt", &mut hist);
        for (name, n) in hist {
            out.insert(format!("{prefix}{name}"), n);
        }
    }

    /// Inverse of [`counters`](Self::counters). An unknown name is an error
    /// naming the attribute.
    pub fn from_counters(c: &BTreeMap<String, u64>) -> Result<Self, String> {
        let mut agg = MinuteAggregate::default();
        for (name, &n) in c {
            agg.read_counter(name, name, n)?;
        }
        Ok(agg)
    }

    /// Add one counter; `name` is the unprefixed name, `full` the stored one
    /// (for the error text).
    fn read_counter(&mut self, name: &str, full: &str, n: u64) -> Result<(), String> {
        match name {
            "rq" => add(&mut self.requests, n),
            "s1" | "s2" | "s3" | "s4" | "s5" => {
                let i = usize::from(name.as_bytes()[1] - b'1');
                add(&mut self.status[i], n);
            }
            "lds" => add(&mut self.load_sum, n),
            _ => {
                let Some((prefix, suffix)) = name.split_once('_') else {
                    return Err(format!("drain counter `{full}` is not a known name"));
                };
                let hist = match prefix {
                    "sv" => &mut self.service,
                    "cn" => &mut self.connect,
                    "qu" => &mut self.queue,
                    "ld" => &mut self.load,
                    "mr" => &mut self.memory_ratio,
                    "mt" => &mut self.memory_total,
                    "e" => {
                        let code = suffix
                            .strip_prefix('h')
                            .filter(|d| d.len() == 2 && d.bytes().all(|b| b.is_ascii_digit()))
                            .and_then(|d| d.parse::<u8>().ok())
                            .ok_or_else(|| {
                                format!("drain counter `{full}`: not an error code `e_hNN`")
                            })?;
                        add(self.errors.entry(code).or_insert(0), n);
                        return Ok(());
                    }
                    _ => return Err(format!("drain counter `{full}` is not a known name")),
                };
                hist.read_counter(full, suffix, n)?;
            }
        }
        Ok(())
    }

    /// Router lines (requests) counted.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Router lines by status class: `[1xx, 2xx, 3xx, 4xx, 5xx]`.
    pub fn status_classes(&self) -> [u64; 5] {
        self.status
    }

    /// Router lines with a capacity error code ([`CAPACITY_CODES`]).
    pub fn capacity_errors(&self) -> u64 {
        CAPACITY_CODES
            .iter()
            .map(|c| self.errors.get(c).copied().unwrap_or(0))
            .fold(0, u64::saturating_add)
    }

    /// Router lines with this code (`"H12"`, case-insensitive); 0 for
    /// anything that is not `H` and two digits.
    pub fn error_count(&self, code: &str) -> u64 {
        parse_h_code(code)
            .and_then(|c| self.errors.get(&c).copied())
            .unwrap_or(0)
    }

    /// Every H code counted, as `(code number, lines)`.
    pub fn errors(&self) -> impl Iterator<Item = (u8, u64)> + '_ {
        self.errors.iter().map(|(&c, &n)| (c, n))
    }

    /// `service` ms quantile (includes queueing in the dyno). `None` without samples.
    pub fn service_ms(&self, q: f64) -> Option<f64> {
        self.service.quantile(q)
    }

    /// `connect` ms quantile.
    pub fn connect_ms(&self, q: f64) -> Option<f64> {
        self.connect.quantile(q)
    }

    /// HireFire queue time quantile (ms).
    pub fn queue_ms(&self, q: f64) -> Option<f64> {
        self.queue.quantile(q)
    }

    /// Mean `load_avg_1m` over the runtime samples of this type's dynos (exact).
    pub fn load_1m_mean(&self) -> Option<f64> {
        let n = self.load.count();
        (n > 0).then(|| self.load_sum as f64 / n as f64 / 100.0)
    }

    /// Largest `load_avg_1m` sample (within the histogram's error).
    pub fn load_1m_max(&self) -> Option<f64> {
        self.load.max().map(|v| v / 100.0)
    }

    /// Number of load samples.
    pub fn load_samples(&self) -> u64 {
        self.load.count()
    }

    /// Largest `memory_total / memory_quota` (1.0 = at quota; R14 above).
    pub fn memory_ratio_max(&self) -> Option<f64> {
        self.memory_ratio.max().map(|v| v / 1000.0)
    }

    /// Largest `memory_total` in MB.
    pub fn memory_total_max_mb(&self) -> Option<f64> {
        self.memory_total.max()
    }

    /// The raw histograms, for callers that need another quantile or a count.
    pub fn service_histogram(&self) -> &Histogram {
        &self.service
    }
    pub fn connect_histogram(&self) -> &Histogram {
        &self.connect
    }
    pub fn queue_histogram(&self) -> &Histogram {
        &self.queue
    }
}

/// `H12` -> 12.
pub(crate) fn parse_h_code(code: &str) -> Option<u8> {
    let b = code.as_bytes();
    if b.len() == 3 && (b[0] == b'H' || b[0] == b'h') && b[1..].iter().all(u8::is_ascii_digit) {
        Some((b[1] - b'0') * 10 + (b[2] - b'0'))
    } else {
        None
    }
}

/// One app's numbers for one minute.
#[derive(Default, Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct AppMinute {
    /// Any frame for the app in this minute => the minute is not missing.
    pub frames: u64,
    /// Messages Logplex said it dropped (L10) => counts are a lower bound.
    pub l10_dropped: u64,
    /// Frames parsed but not aggregated.
    #[serde(default)]
    pub skipped: u64,
    /// Router lines that reached no dyno (`dyno=` empty: H10, H11, H14, …).
    #[serde(default)]
    pub unattributed: MinuteAggregate,
    /// Process type (`web`) -> its numbers.
    pub types: BTreeMap<String, MinuteAggregate>,
}

impl AppMinute {
    /// Add every counter of `other`.
    pub fn merge(&mut self, other: &AppMinute) {
        add(&mut self.frames, other.frames);
        add(&mut self.l10_dropped, other.l10_dropped);
        add(&mut self.skipped, other.skipped);
        self.unattributed.merge(&other.unattributed);
        for (name, agg) in &other.types {
            self.types.entry(name.clone()).or_default().merge(agg);
        }
    }

    /// True when Logplex reported dropped messages: counts are a lower bound.
    pub fn incomplete(&self) -> bool {
        self.l10_dropped > 0
    }

    /// The aggregate of a process type, if any line of it was counted.
    pub fn formation(&self, process_type: &str) -> Option<&MinuteAggregate> {
        self.types.get(process_type)
    }

    /// The aggregate to count a line of `process_type` into; `None` (the
    /// caller counts the line as skipped) for an invalid name or one type
    /// too many.
    pub fn type_mut(&mut self, process_type: &str) -> Option<&mut MinuteAggregate> {
        if !valid_process_type(process_type) {
            return None;
        }
        if !self.types.contains_key(process_type) && self.types.len() >= MAX_TYPES_PER_MINUTE {
            return None;
        }
        Some(self.types.entry(process_type.to_string()).or_default())
    }

    /// Flat counters for storage (names in the module doc), only those > 0.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (name, n) in [
            ("fr", self.frames),
            ("l10", self.l10_dropped),
            ("skip", self.skipped),
        ] {
            if n > 0 {
                out.insert(name.to_string(), n);
            }
        }
        self.unattributed.write_counters("", &mut out);
        for (ty, agg) in &self.types {
            agg.write_counters(&format!("{ty}."), &mut out);
        }
        out
    }

    /// Inverse of [`counters`](Self::counters). An unknown name is an error
    /// naming the attribute.
    pub fn from_counters(c: &BTreeMap<String, u64>) -> Result<Self, String> {
        let mut m = AppMinute::default();
        for (full, &n) in c {
            match full.split_once('.') {
                Some((ty, name)) => {
                    if !valid_process_type(ty) {
                        return Err(format!(
                            "drain counter `{full}`: `{ty}` is not a process type name"
                        ));
                    }
                    m.types
                        .entry(ty.to_string())
                        .or_default()
                        .read_counter(name, full, n)?;
                }
                None => match full.as_str() {
                    "fr" => add(&mut m.frames, n),
                    "l10" => add(&mut m.l10_dropped, n),
                    "skip" => add(&mut m.skipped, n),
                    _ => m.unattributed.read_counter(full, full, n)?,
                },
            }
        }
        Ok(m)
    }
}

/// Everything one POST body adds, grouped by minute (UTC, truncated), for ONE app.
#[derive(Default, Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Batch {
    /// Minute start (epoch seconds, a multiple of 60) -> the app's numbers.
    pub minutes: BTreeMap<i64, AppMinute>,
    /// Frames that could not be parsed at all (bad octet count, truncated,
    /// bad header or timestamp, over the caps), counted.
    pub rejected: u64,
    /// Frames parsed but not of a kind we aggregate.
    pub skipped: u64,
    /// Frames parsed (all kinds).
    pub frames: u64,
}

impl Batch {
    /// The minute holding epoch second `ts`.
    pub fn minute_mut(&mut self, ts: i64) -> &mut AppMinute {
        self.minutes.entry(ts.div_euclid(60) * 60).or_default()
    }

    /// Add every counter of `other`.
    pub fn merge(&mut self, other: &Batch) {
        add(&mut self.rejected, other.rejected);
        add(&mut self.skipped, other.skipped);
        add(&mut self.frames, other.frames);
        for (&minute, m) in &other.minutes {
            self.minutes.entry(minute).or_default().merge(m);
        }
    }

    /// Messages Logplex reported dropped, over all minutes.
    pub fn l10_dropped(&self) -> u64 {
        self.minutes
            .values()
            .map(|m| m.l10_dropped)
            .fold(0, u64::saturating_add)
    }
}
