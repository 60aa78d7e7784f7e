//! How the HTTP inputs turn transport errors and status codes into
//! [`SourceErrorKind`]s, so every HTTP input labels the same failure the same way.
//!
//! Messages never carry a URL's query or a request header: reqwest's error
//! text names the URL, so it is stripped with `without_url` and the caller adds
//! the URL it knows to be safe to print; a quoted body is redacted
//! ([`crate::redact`]), since providers echo the headers they refused.

use reqwest::StatusCode;

use super::{SourceError, SourceErrorKind};
use crate::body_limit::{self, BodyError, INPUT_BODY_LIMIT};
use crate::error_text::error_chain;

/// The most of a response body quoted in an error: enough for an API's own
/// message, short enough for a report line.
const BODY_QUOTE: usize = 200;

/// A request that got no response.
pub(crate) fn send_error(what: &str, e: reqwest::Error) -> SourceError {
    let kind = if e.is_timeout() {
        SourceErrorKind::Timeout
    } else {
        // Connection refused, DNS failure, TLS failure, reset: nothing answered.
        SourceErrorKind::Unavailable
    };
    let e = e.without_url();
    SourceError::new(kind, format!("{what}: {}", error_chain(&e)))
}

/// An input's answer body, at most [`INPUT_BODY_LIMIT`] bytes of it (see
/// [`crate::body_limit`]): a larger one fails the input as malformed.
pub(crate) async fn read_body(
    what: &str,
    response: reqwest::Response,
) -> Result<String, SourceError> {
    body_limit::read_text(response, INPUT_BODY_LIMIT)
        .await
        .map_err(|e| body_error(what, e))
}

/// A body that could not be read: too large (malformed: no documented answer
/// is that big), or the transfer failed.
pub(crate) fn body_error(what: &str, e: BodyError) -> SourceError {
    match e {
        BodyError::TooLarge { .. } => {
            SourceError::new(SourceErrorKind::Malformed, format!("{what}: {e}"))
        }
        BodyError::Read(e) => send_error(what, e),
    }
}

/// An answer with a status that is not success.
pub(crate) fn status_error(what: &str, status: StatusCode, detail: &str) -> SourceError {
    let kind = status_kind(status);
    let detail = quote(detail);
    let message = if detail.is_empty() {
        format!("{what}: HTTP {status}")
    } else {
        format!("{what}: HTTP {status}: {detail}")
    };
    SourceError::new(kind, message)
}

/// The kind a status code stands for.
pub(crate) fn status_kind(status: StatusCode) -> SourceErrorKind {
    match status.as_u16() {
        401 | 403 => SourceErrorKind::Unauthorized,
        404 | 410 => SourceErrorKind::NotFound,
        429 => SourceErrorKind::RateLimited,
        408 => SourceErrorKind::Timeout,
        500..=599 => SourceErrorKind::Unavailable,
        // Any other 4xx: the request as configured is refused; retrying will not help.
        _ => SourceErrorKind::Setup,
    }
}

/// A body shortened to one line for an error message, every known secret
/// redacted first (a provider may echo the request's credentials, and a cut
/// made first could leave half a secret that no longer matches).
pub(crate) fn quote(body: &str) -> String {
    let one_line: String = crate::redact::redact(body)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = one_line.trim();
    if trimmed.chars().count() > BODY_QUOTE {
        let cut: String = trimmed.chars().take(BODY_QUOTE).collect();
        format!("{cut}…")
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_to_stable_kinds() {
        let kind = |code| status_kind(StatusCode::from_u16(code).unwrap());
        assert_eq!(kind(401), SourceErrorKind::Unauthorized);
        assert_eq!(kind(403), SourceErrorKind::Unauthorized);
        assert_eq!(kind(404), SourceErrorKind::NotFound);
        assert_eq!(kind(429), SourceErrorKind::RateLimited);
        assert_eq!(kind(503), SourceErrorKind::Unavailable);
        assert_eq!(kind(400), SourceErrorKind::Setup);
    }

    #[test]
    fn quoted_bodies_are_one_short_line() {
        assert_eq!(quote("  a\nb  "), "a b");
        let long = "x".repeat(500);
        assert_eq!(quote(&long).chars().count(), BODY_QUOTE + 1);
    }
}
