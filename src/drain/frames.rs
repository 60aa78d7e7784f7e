//! Octet-counted Logplex frames (RFC 6587 framing over RFC 5424 without
//! STRUCTURED-DATA), as Heroku's HTTPS drains POST them.
//!
//! A body is `<len> <message>` repeated with no separator; `<len>` counts
//! the message's bytes, its trailing `\n` included when there is one (L10
//! messages have none). Each message is
//! `<PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID MSG` with no
//! STRUCTURED-DATA field, so a strict RFC 5424 parser would read MSG's
//! first word as SD and fail.
//!
//! Tolerated: any PRI (`<0>`..`<999>`), any one- or two-digit VERSION, a
//! timestamp with 0–9 fraction digits and `Z` or any `±HH:MM` offset, any
//! HOSTNAME (literally `host` today; the drain token in Labs-era frames),
//! any MSGID, an empty MSG, a MSG that is not UTF-8 (kept as bytes), and
//! `\r`, `\n` or spaces between frames (Logplex sends none; hand-made
//! bodies do).
//!
//! Caps (no input allocates or loops without bound; the parser borrows
//! from the body and allocates nothing):
//! - an octet count has at most [`MAX_LEN_DIGITS`] digits;
//! - a frame longer than [`MAX_FRAME_LEN`] is rejected and skipped (Logplex
//!   caps a syslog message at 10 KiB; the header adds ~100 bytes);
//! - at most [`MAX_FRAMES`] frames per body; the rest of the body is one
//!   rejected item.
//!
//! Errors (a rejected frame): when the octet count is readable the parser
//! skips exactly that many bytes and goes on; when it is not (not digits,
//! no space after it) or the frame runs past the body's end (truncated), the
//! rest of the body is one rejected item and iteration stops. Error values
//! name the field, never the frame's text (it may hold paths, IPs, hosts).

use std::fmt;

/// Longest octet count accepted, in digits.
pub const MAX_LEN_DIGITS: usize = 6;

/// Longest frame accepted, in bytes.
pub const MAX_FRAME_LEN: usize = 16 * 1024;

/// Most frames read from one body (a 100 KiB body holds ~500 router lines;
/// the smallest possible frame is ~40 bytes).
pub const MAX_FRAMES: usize = 20_000;

/// One parsed message, borrowing from the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// facility × 8 + severity; varies, never branch on it.
    pub pri: u16,
    /// TIMESTAMP in epoch seconds, UTC (fraction dropped).
    pub timestamp: i64,
    /// `host` for HTTPS drains.
    pub hostname: &'a str,
    /// `heroku` for platform messages, `app` for the app's output.
    pub app_name: &'a str,
    /// `router`, a dyno name (`web.1`), `logplex`, …
    pub procid: &'a str,
    /// The rest of the message, trailing `\n` included if sent.
    pub msg: &'a [u8],
}

/// Why a frame was rejected. Names a field, never quotes the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The octet count is not 1–6 digits followed by a space: the rest of
    /// the body cannot be framed.
    BadLength,
    /// The octet count runs past the end of the body.
    Truncated,
    /// The frame is longer than [`MAX_FRAME_LEN`] (skipped).
    TooLong,
    /// More than [`MAX_FRAMES`] frames: the rest of the body is ignored.
    TooManyFrames,
    /// A header field is missing or malformed (`"PRI"`, `"VERSION"`,
    /// `"TIMESTAMP"`, `"HOSTNAME"`, `"APP-NAME"`, `"PROCID"`, `"MSGID"`).
    Header(&'static str),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::BadLength => write!(f, "octet count is not digits then a space"),
            FrameError::Truncated => write!(f, "frame runs past the end of the body"),
            FrameError::TooLong => write!(f, "frame longer than {MAX_FRAME_LEN} bytes"),
            FrameError::TooManyFrames => write!(f, "more than {MAX_FRAMES} frames in one body"),
            FrameError::Header(field) => write!(f, "bad {field} in frame header"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Iterator over the frames of a body: `Ok` per parsed frame, `Err` per
/// rejected one.
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    body: &'a [u8],
    pos: usize,
    count: usize,
    done: bool,
}

/// The frames of a POST body.
pub fn frames(body: &[u8]) -> Frames<'_> {
    Frames {
        body,
        pos: 0,
        count: 0,
        done: false,
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let body = self.body;
        while self.pos < body.len() && matches!(body[self.pos], b'\n' | b'\r' | b' ') {
            self.pos += 1;
        }
        if self.pos >= body.len() {
            self.done = true;
            return None;
        }
        if self.count >= MAX_FRAMES {
            self.done = true;
            return Some(Err(FrameError::TooManyFrames));
        }
        self.count += 1;
        let digits = body[self.pos..]
            .iter()
            .take(MAX_LEN_DIGITS + 1)
            .take_while(|b| b.is_ascii_digit())
            .count();
        let after = self.pos + digits;
        if digits == 0 || digits > MAX_LEN_DIGITS || body.get(after) != Some(&b' ') {
            self.done = true;
            return Some(Err(FrameError::BadLength));
        }
        let len = body[self.pos..after]
            .iter()
            .fold(0usize, |n, &d| n * 10 + usize::from(d - b'0'));
        let start = after + 1;
        let Some(end) = start.checked_add(len).filter(|&e| e <= body.len()) else {
            self.done = true;
            return Some(Err(FrameError::Truncated));
        };
        self.pos = end;
        if len > MAX_FRAME_LEN {
            return Some(Err(FrameError::TooLong));
        }
        Some(parse_message(&body[start..end]))
    }
}

/// Parse one message (without its octet count).
pub fn parse_message(m: &[u8]) -> Result<Frame<'_>, FrameError> {
    // <PRI>
    let rest = m.strip_prefix(b"<").ok_or(FrameError::Header("PRI"))?;
    let digits = rest
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if !(1..=3).contains(&digits) || rest.get(digits) != Some(&b'>') {
        return Err(FrameError::Header("PRI"));
    }
    let pri = rest[..digits]
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    let rest = &rest[digits + 1..];
    // VERSION SP
    let (version, rest) = token(rest).ok_or(FrameError::Header("VERSION"))?;
    if version.is_empty() || version.len() > 2 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FrameError::Header("VERSION"));
    }
    let rest = rest.ok_or(FrameError::Header("TIMESTAMP"))?;
    let (ts, rest) = token(rest).ok_or(FrameError::Header("TIMESTAMP"))?;
    let timestamp = parse_timestamp(ts).ok_or(FrameError::Header("TIMESTAMP"))?;
    let (hostname, rest) =
        token(rest.ok_or(FrameError::Header("HOSTNAME"))?).ok_or(FrameError::Header("HOSTNAME"))?;
    let (app_name, rest) =
        token(rest.ok_or(FrameError::Header("APP-NAME"))?).ok_or(FrameError::Header("APP-NAME"))?;
    let (procid, rest) =
        token(rest.ok_or(FrameError::Header("PROCID"))?).ok_or(FrameError::Header("PROCID"))?;
    let (_msgid, rest) =
        token(rest.ok_or(FrameError::Header("MSGID"))?).ok_or(FrameError::Header("MSGID"))?;
    Ok(Frame {
        pri,
        timestamp,
        hostname,
        app_name,
        procid,
        msg: rest.unwrap_or(b""),
    })
}

/// A header token: 1..=255 printable ASCII bytes up to a space. Returns the
/// token and what follows the space (`None` at the end of the message, or
/// when the message ends in `\n` right after the token).
fn token(s: &[u8]) -> Option<(&str, Option<&[u8]>)> {
    let n = s.iter().take_while(|&&b| b != b' ').count();
    let tok = &s[..n];
    let tok_trimmed = tok.strip_suffix(b"\n").unwrap_or(tok);
    if tok_trimmed.is_empty()
        || tok_trimmed.len() > 255
        || !tok_trimmed.iter().all(|b| b.is_ascii_graphic())
    {
        return None;
    }
    let text = std::str::from_utf8(tok_trimmed).ok()?;
    let rest = if n < s.len() { Some(&s[n + 1..]) } else { None };
    Some((text, rest))
}

/// RFC 3339 (`2026-11-22T07:40:01.123456+00:00`, fraction of 0–9 digits,
/// `Z` or `±HH:MM`) to epoch seconds, UTC, fraction dropped.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        if part.iter().all(u8::is_ascii_digit) {
            Some(part.iter().fold(0i64, |n, &d| n * 10 + i64::from(d - b'0')))
        } else {
            None
        }
    };
    let sep = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        let frac = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&frac) {
            return None;
        }
        i += 1 + frac;
    }
    let offset = match &b[i..] {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let digits = [*h1, *h2, *m1, *m2];
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let h = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
            let m = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    // A leap second (:60) counts as :59 of that minute.
    let second = second.min(59);
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(msgs: &[&str]) -> Vec<u8> {
        let mut body = Vec::new();
        for m in msgs {
            body.extend_from_slice(format!("{} {}", m.len(), m).as_bytes());
        }
        body
    }

    #[test]
    fn timestamps_with_any_precision_and_offset_agree() {
        let want = 1_795_333_201; // 2026-11-22T07:40:01Z
        for s in [
            "2026-11-22T07:40:01+00:00",
            "2026-11-22T07:40:01Z",
            "2026-11-22T07:40:01.1Z",
            "2026-11-22T07:40:01.123456+00:00",
            "2026-11-22T08:40:01.5+01:00",
            "2026-11-22T02:10:01-05:30",
        ] {
            assert_eq!(parse_timestamp(s), Some(want), "{s}");
        }
        for bad in [
            "2026-11-22T07:40:01",
            "2026-13-22T07:40:01Z",
            "2026-02-29T07:40:01Z",
            "2026-11-22T07:40:01.Z",
            "2026-11-22 07:40:01Z",
            "2026-11-22T07:40:01+0000",
            "-",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("2024-02-29T00:00:00Z"), Some(1_709_164_800));
    }

    #[test]
    fn frames_without_trailing_newline_and_labs_hostnames_parse() {
        let body = framed(&[
            "<172>1 2026-11-22T07:41:00+00:00 host heroku logplex - Error L10 (output buffer overflow): 7 messages dropped since 2026-11-22T07:39:12+00:00.",
            "<40>1 2012-11-30T06:45:29+00:00 d.73ea7440-270e-4a2e-9b6c-2ba3c2d1f234 heroku router - at=info\n",
        ]);
        let got: Vec<_> = frames(&body).collect();
        assert_eq!(got.len(), 2);
        let l10 = got[0].unwrap();
        assert_eq!(
            (l10.app_name, l10.procid, l10.pri),
            ("heroku", "logplex", 172)
        );
        assert!(l10.msg.ends_with(b"+00:00."));
        let labs = got[1].unwrap();
        assert_eq!((labs.app_name, labs.procid), ("heroku", "router"));
        assert_eq!(labs.msg, b"at=info\n");
    }

    #[test]
    fn a_bad_frame_with_a_usable_length_is_skipped_and_parsing_resumes() {
        let good = "<158>1 2026-11-22T07:40:01Z host heroku router - at=info\n";
        let body = framed(&["not a syslog message", good]);
        let got: Vec<_> = frames(&body).collect();
        assert_eq!(got[0], Err(FrameError::Header("PRI")));
        assert!(got[1].is_ok());
    }

    #[test]
    fn a_truncated_last_frame_is_rejected() {
        let good = "<158>1 2026-11-22T07:40:01Z host heroku router - at=info\n";
        let mut body = framed(&[good, good]);
        body.truncate(body.len() - 3);
        let got: Vec<_> = frames(&body).collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert_eq!(got[1], Err(FrameError::Truncated));
    }

    #[test]
    fn an_unreadable_length_rejects_the_rest_once() {
        let got: Vec<_> = frames(b"abc <158>1 ...").collect();
        assert_eq!(got, vec![Err(FrameError::BadLength)]);
        let got: Vec<_> = frames(b"1234567 x").collect();
        assert_eq!(got, vec![Err(FrameError::BadLength)]);
    }

    #[test]
    fn an_oversized_frame_is_skipped() {
        let big = format!(
            "<190>1 2026-11-22T07:40:01Z host app web.1 - {}\n",
            "x".repeat(MAX_FRAME_LEN)
        );
        let good = "<158>1 2026-11-22T07:40:01Z host heroku router - at=info\n";
        let body = framed(&[&big, good]);
        let got: Vec<_> = frames(&body).collect();
        assert_eq!(got[0], Err(FrameError::TooLong));
        assert!(got[1].is_ok());
    }

    #[test]
    fn the_frame_count_is_capped() {
        let one = "<158>1 2026-11-22T07:40:01Z h a b - m";
        let body = framed(&vec![one; MAX_FRAMES + 5]);
        let got: Vec<_> = frames(&body).collect();
        assert_eq!(got.len(), MAX_FRAMES + 1);
        assert_eq!(got[MAX_FRAMES], Err(FrameError::TooManyFrames));
    }
}
