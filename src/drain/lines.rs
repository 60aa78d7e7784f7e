//! What one frame says: a router line, a runtime-metrics sample, HireFire's
//! queue-time line, a Logplex L10 loss report, or something we skip.
//!
//! - Router (`APP-NAME heroku`, `PROCID router`): `key=value` pairs, values
//!   bare or double-quoted, possibly empty; unknown keys and any key order
//!   accepted. Read: `dyno` (process type), `connect`/`service` (ms, with
//!   or without the `ms` suffix, empty allowed), `status`, `code` (`Hnn`).
//! - Runtime metrics (`APP-NAME heroku`, PROCID a dyno name): lines with
//!   `sample#load_avg_1m=` and/or `sample#memory_total=` (`sample#memory_quota=`
//!   optional); the process type comes from `source=`, else from PROCID.
//!   Heroku Postgres/Redis metric lines (`source=DATABASE`) are not dynos: skipped.
//! - HireFire (`APP-NAME app`): MSG exactly `[hirefire:router] queue=<digits>ms`
//!   (trailing `\n`/`\r` trimmed); PROCID is the dyno.
//! - L10 (`APP-NAME heroku`, `PROCID logplex`): `Error L10 (output buffer
//!   overflow): <N> messages dropped since …`.
//!
//! Only numbers leave this module: paths, hosts, IPs, request ids and app
//! text are never copied (the only borrowed text is a process type).

use super::aggregate::{parse_h_code, valid_process_type};
use super::frames::Frame;

/// One router line's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RouterLine<'a> {
    /// From `dyno=web.1`; `None` when `dyno=` is empty or absent (no dyno reached).
    pub process_type: Option<&'a str>,
    /// `connect` in ms.
    pub connect_ms: Option<u64>,
    /// `service` in ms (includes queueing inside the dyno).
    pub service_ms: Option<u64>,
    /// HTTP status.
    pub status: Option<u16>,
    /// `code=H12` -> 12.
    pub code: Option<u8>,
}

/// One runtime-metrics line's numbers (a line carries load or memory).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RuntimeLine<'a> {
    /// From `source=web.1` (else PROCID).
    pub process_type: &'a str,
    /// `sample#load_avg_1m` × 100, rounded.
    pub load_1m_x100: Option<u64>,
    /// `sample#memory_total` in MB.
    pub memory_total_mb: Option<f64>,
    /// `sample#memory_quota` in MB.
    pub memory_quota_mb: Option<f64>,
}

/// Why a frame is not aggregated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// App output, dyno state changes, API events, add-on metrics, …
    NotAggregated,
    /// A line of a one-off dyno (`run.7166`, `scheduler.1234`, `release.1`):
    /// not part of any formation.
    OneOff,
    /// A dyno name we cannot read a process type from.
    UnknownDyno,
    /// The kind was recognised but a value could not be read.
    BadValue,
}

/// What a frame says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Line<'a> {
    Router(RouterLine<'a>),
    Runtime(RuntimeLine<'a>),
    /// HireFire's queue time line.
    Queue {
        process_type: &'a str,
        ms: u64,
    },
    /// Logplex dropped this many messages.
    L10 {
        dropped: u64,
    },
    Skipped(Skip),
}

/// The process type a dyno belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dyno<'a> {
    /// A formation dyno: `web.1` -> `web`; Fir `web-6b9f7d8c4-x2k9p` -> `web`.
    Formation(&'a str),
    /// A one-off dyno (`run.N`, `scheduler.N`, `release.N`).
    OneOff,
    /// Not a dyno name.
    Unknown,
}

/// One-off dyno prefixes (Heroku `run`, Scheduler jobs, the release phase).
const ONE_OFF: [&str; 3] = ["run", "scheduler", "release"];

/// The process type of a dyno name.
pub fn dyno(name: &str) -> Dyno<'_> {
    if let Some((ty, n)) = name.rsplit_once('.') {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && valid_process_type(ty) {
            return if ONE_OFF.contains(&ty) {
                Dyno::OneOff
            } else {
                Dyno::Formation(ty)
            };
        }
        return Dyno::Unknown;
    }
    // Fir: `<type>-<replica set hash>-<5 chars>`.
    let mut parts = name.rsplitn(3, '-');
    if let (Some(suffix), Some(hash), Some(ty)) = (parts.next(), parts.next(), parts.next()) {
        let alnum = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if suffix.len() == 5 && alnum(suffix) && alnum(hash) && valid_process_type(ty) {
            return if ONE_OFF.contains(&ty) {
                Dyno::OneOff
            } else {
                Dyno::Formation(ty)
            };
        }
    }
    Dyno::Unknown
}

/// Classify one frame.
pub fn classify<'a>(frame: &Frame<'a>) -> Line<'a> {
    match (frame.app_name, frame.procid) {
        ("heroku", "router") => router(frame.msg),
        ("heroku", "logplex") => l10(frame.msg),
        ("heroku", procid) => runtime(procid, frame.msg),
        ("app", procid) => hirefire(procid, frame.msg),
        _ => Line::Skipped(Skip::NotAggregated),
    }
}

/// `key=value` pairs of a line: values bare or double-quoted (a quoted
/// value may hold spaces; `\"` does not end it). Bounded by the line.
fn pairs(msg: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut i = 0;
    std::iter::from_fn(move || loop {
        while i < msg.len() && matches!(msg[i], b' ' | b'\n' | b'\r' | b'\t') {
            i += 1;
        }
        if i >= msg.len() {
            return None;
        }
        let key_start = i;
        while i < msg.len() && !matches!(msg[i], b'=' | b' ' | b'\n' | b'\r' | b'\t') {
            i += 1;
        }
        let key = &msg[key_start..i];
        if i >= msg.len() || msg[i] != b'=' {
            continue; // a bare word: not a pair
        }
        i += 1;
        if i < msg.len() && msg[i] == b'"' {
            i += 1;
            let start = i;
            while i < msg.len() && msg[i] != b'"' {
                i += if msg[i] == b'\\' { 2 } else { 1 };
            }
            let end = i.min(msg.len());
            i = end.saturating_add(1);
            return Some((key, &msg[start..end]));
        }
        let start = i;
        while i < msg.len() && !matches!(msg[i], b' ' | b'\n' | b'\r' | b'\t') {
            i += 1;
        }
        return Some((key, &msg[start..i]));
    })
}

/// Non-negative decimal (`42`, `0.42`, `1e3` is not) to f64.
fn decimal(v: &[u8]) -> Option<f64> {
    if v.is_empty() || v.len() > 24 || !v.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse::<f64>().ok()
}

/// `42ms`, `42`, `1.5ms` -> whole ms; empty -> None.
fn millis(v: &[u8]) -> Option<u64> {
    let v = v.strip_suffix(b"ms").unwrap_or(v);
    decimal(v).map(|x| x.round().min(u64::MAX as f64) as u64)
}

fn router(msg: &[u8]) -> Line<'_> {
    let mut line = RouterLine::default();
    let mut dyno_name: Option<&[u8]> = None;
    // A request line has `at=` or `status=`; other router text is not a request.
    let mut is_request = false;
    for (key, value) in pairs(msg) {
        match key {
            b"at" => is_request = true,
            b"dyno" if dyno_name.is_none() => dyno_name = Some(value),
            b"connect" if line.connect_ms.is_none() => line.connect_ms = millis(value),
            b"service" if line.service_ms.is_none() => line.service_ms = millis(value),
            b"status" if line.status.is_none() => {
                is_request = true;
                line.status = decimal(value)
                    .filter(|s| s.fract() == 0.0 && *s < 1000.0)
                    .map(|s| s as u16)
            }
            b"code" if line.code.is_none() => {
                line.code = std::str::from_utf8(value).ok().and_then(parse_h_code)
            }
            _ => {}
        }
    }
    if !is_request {
        return Line::Skipped(Skip::NotAggregated);
    }
    match dyno_name {
        None | Some(b"") => Line::Router(line),
        Some(name) => match std::str::from_utf8(name).map(dyno) {
            Ok(Dyno::Formation(ty)) => {
                line.process_type = Some(ty);
                Line::Router(line)
            }
            Ok(Dyno::OneOff) => Line::Skipped(Skip::OneOff),
            _ => Line::Skipped(Skip::UnknownDyno),
        },
    }
}

fn runtime<'a>(procid: &'a str, msg: &'a [u8]) -> Line<'a> {
    let mut source: Option<&[u8]> = None;
    let mut line = RuntimeLine::default();
    let mut bad = false;
    for (key, value) in pairs(msg) {
        let mb = |v: &[u8]| decimal(v.strip_suffix(b"MB").unwrap_or(v));
        match key {
            b"source" if source.is_none() => source = Some(value),
            b"sample#load_avg_1m" => match decimal(value) {
                Some(x) => {
                    line.load_1m_x100 = Some((x * 100.0).round().min(u64::MAX as f64) as u64)
                }
                None => bad = true,
            },
            b"sample#memory_total" => match mb(value) {
                Some(x) => line.memory_total_mb = Some(x),
                None => bad = true,
            },
            b"sample#memory_quota" => line.memory_quota_mb = mb(value),
            _ => {}
        }
    }
    if line.load_1m_x100.is_none() && line.memory_total_mb.is_none() {
        return Line::Skipped(if bad {
            Skip::BadValue
        } else {
            Skip::NotAggregated
        });
    }
    let name = match source {
        Some(s) => match std::str::from_utf8(s) {
            Ok(s) => s,
            Err(_) => return Line::Skipped(Skip::UnknownDyno),
        },
        None => procid,
    };
    match dyno(name) {
        Dyno::Formation(ty) => {
            line.process_type = ty;
            Line::Runtime(line)
        }
        Dyno::OneOff => Line::Skipped(Skip::OneOff),
        Dyno::Unknown => Line::Skipped(Skip::UnknownDyno),
    }
}

fn hirefire<'a>(procid: &'a str, msg: &[u8]) -> Line<'a> {
    let mut m = msg;
    while let Some(rest) = m.strip_suffix(b"\n").or_else(|| m.strip_suffix(b"\r")) {
        m = rest;
    }
    let Some(digits) = m
        .strip_prefix(b"[hirefire:router] queue=")
        .and_then(|r| r.strip_suffix(b"ms"))
    else {
        return Line::Skipped(Skip::NotAggregated);
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Line::Skipped(Skip::NotAggregated);
    }
    let ms = digits.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    match dyno(procid) {
        Dyno::Formation(process_type) => Line::Queue { process_type, ms },
        Dyno::OneOff => Line::Skipped(Skip::OneOff),
        Dyno::Unknown => Line::Skipped(Skip::UnknownDyno),
    }
}

fn l10(msg: &[u8]) -> Line<'static> {
    let Some(rest) = msg.strip_prefix(b"Error L10 (output buffer overflow): ") else {
        return Line::Skipped(Skip::NotAggregated);
    };
    let n = rest
        .iter()
        .take(20)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n == 0 || n > 19 || !rest[n..].starts_with(b" messages dropped") {
        return Line::Skipped(Skip::BadValue);
    }
    let dropped = rest[..n].iter().fold(0u64, |acc, &d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Line::L10 { dropped }
}
