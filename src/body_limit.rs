//! Every external body is read with a size cap.
//!
//! The function has 128 MB of memory: one input that answered a 50 MB JSON
//! array took the process to 871 MB and got it killed on every run, so no
//! formation was scaled at all. A body is therefore read chunk by chunk and
//! refused as soon as it passes its cap (a `Content-Length` above the cap is
//! refused before reading anything), so at most the cap is ever buffered,
//! whatever the sender claims.
//!
//! A leaf module: it imports nothing from the crate.

use std::fmt;

/// The most read from an input's answer (New Relic, NerdGraph, Pingdom, GA4
/// reports, app metrics, probed pages). The documented answers are a few
/// kilobytes; a megabyte leaves room for verbose APIs and is a hundredth of the
/// function's memory.
pub const INPUT_BODY_LIMIT: usize = 1024 * 1024;
/// The most read from a Heroku Platform API answer: a formation list is a few
/// hundred bytes per process type.
pub const HEROKU_BODY_LIMIT: usize = 1024 * 1024;
/// The most read from an OAuth token endpoint (GA4): a token answer is about
/// one kilobyte.
pub const TOKEN_BODY_LIMIT: usize = 64 * 1024;
/// The most accepted as an SSM parameter value: SSM's own maximum (advanced
/// parameters, 8 KB); anything longer is not what SSM serves.
pub const SSM_VALUE_LIMIT: usize = 8 * 1024;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// The body (or its announced length) is larger than the cap.
    TooLarge { limit: usize },
    /// The connection failed or timed out while reading.
    Read(reqwest::Error),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { limit } => write!(
                f,
                "the answer is larger than {}, the most dynopilot reads from it",
                size(*limit)
            ),
            Self::Read(e) => write!(f, "the answer could not be read: {e}"),
        }
    }
}

/// Read `response`'s body, at most `limit` bytes, as text (invalid UTF-8
/// replaced: the callers parse JSON or quote it).
///
/// # Errors
/// [`BodyError::TooLarge`] as soon as the announced or the received length
/// passes `limit`; [`BodyError::Read`] when the transfer fails.
pub async fn read_text(mut response: reqwest::Response, limit: usize) -> Result<String, BodyError> {
    if response
        .content_length()
        .is_some_and(|announced| announced > limit as u64)
    {
        return Err(BodyError::TooLarge { limit });
    }
    let mut body: Vec<u8> = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        // Checked before the copy: a lying or missing Content-Length (chunked
        // transfer) never grows the buffer past the cap.
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Refuse a value that arrived whole (an SDK read it) but is longer than
/// `limit`: `what` names it in the message.
///
/// # Errors
/// A message naming `what` and the limit.
pub fn check_len(what: &str, len: usize, limit: usize) -> Result<(), String> {
    if len > limit {
        return Err(format!(
            "{what} is larger than {}, the most dynopilot accepts",
            size(limit)
        ));
    }
    Ok(())
}

/// An SSM parameter value (the SDK read it whole) checked against
/// [`SSM_VALUE_LIMIT`].
///
/// # Errors
/// A message naming the parameter's path and the limit, never the value.
pub fn check_ssm_value(path: &str, value: &str) -> Result<(), String> {
    check_len(
        &format!("SSM parameter {path}"),
        value.len(),
        SSM_VALUE_LIMIT,
    )
}

/// A byte count as people write it: `1 MiB`, `64 KiB`, `512 bytes`.
pub fn size(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(INPUT_BODY_LIMIT), "1 MiB");
        assert_eq!(size(TOKEN_BODY_LIMIT), "64 KiB");
        assert_eq!(size(SSM_VALUE_LIMIT), "8 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }

    #[test]
    fn a_value_above_the_limit_is_refused_by_name() {
        assert_eq!(check_len("SSM parameter /p", 10, 10), Ok(()));
        let err = check_len("SSM parameter /p", 11, 10).unwrap_err();
        assert_eq!(
            err,
            "SSM parameter /p is larger than 10 bytes, the most dynopilot accepts"
        );
    }

    #[test]
    fn an_ssm_value_above_8_kib_is_refused_naming_its_path() {
        assert_eq!(
            check_ssm_value("/dynopilot/token", &"x".repeat(8192)),
            Ok(())
        );
        let err = check_ssm_value("/dynopilot/token", &"x".repeat(8193)).unwrap_err();
        assert_eq!(
            err,
            "SSM parameter /dynopilot/token is larger than 8 KiB, the most dynopilot accepts"
        );
    }
}
