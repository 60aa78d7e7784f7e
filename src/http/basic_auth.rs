//! HTTP Basic credentials, checked in constant time.
//!
//! The expected credentials are one secret, `user:password`, resolved by
//! reference through the secrets port (like the Heroku token). The header's
//! `user:password` is compared whole with [`subtle`], so the time taken does
//! not tell how many leading bytes were right. Used by `POST /drain` (each
//! drain's credentials) and reusable by any other route with its own secret.

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// The realm named in `WWW-Authenticate` on a 401.
pub const REALM: &str = "dynopilot";

/// The `WWW-Authenticate` value a 401 carries.
pub fn challenge() -> String {
    format!("Basic realm=\"{REALM}\", charset=\"UTF-8\"")
}

/// Why a request is not authenticated (no secret or header value inside).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header.
    Missing,
    /// Not `Basic <base64 of user:password>`.
    Malformed,
    /// Well formed, but not the expected credentials.
    Wrong,
}

impl AuthFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Wrong => "wrong",
        }
    }
}

/// The decoded `user:password` of an `Authorization: Basic ...` value.
///
/// # Errors
/// [`AuthFailure::Missing`] without a header, [`AuthFailure::Malformed`] when it
/// is not Basic with base64 of `user:password`.
pub fn decode(header: Option<&[u8]>) -> Result<SecretString, AuthFailure> {
    let header = header.ok_or(AuthFailure::Missing)?;
    let text = std::str::from_utf8(header).map_err(|_| AuthFailure::Malformed)?;
    let text = text.trim();
    let (scheme, rest) = text.split_once(' ').ok_or(AuthFailure::Malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthFailure::Malformed);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| AuthFailure::Malformed)?;
    let decoded = String::from_utf8(bytes).map_err(|_| AuthFailure::Malformed)?;
    if !decoded.contains(':') {
        return Err(AuthFailure::Malformed);
    }
    Ok(SecretString::from(decoded))
}

/// Whether `given` equals `expected`, in time independent of where they differ.
pub fn matches(given: &SecretString, expected: &SecretString) -> bool {
    given
        .expose_secret()
        .as_bytes()
        .ct_eq(expected.expose_secret().as_bytes())
        .into()
}

/// Check an `Authorization` header against the expected `user:password`.
///
/// # Errors
/// Why it does not authenticate.
pub fn check(header: Option<&[u8]>, expected: &SecretString) -> Result<(), AuthFailure> {
    let given = decode(header)?;
    if matches(&given, expected) {
        Ok(())
    } else {
        Err(AuthFailure::Wrong)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_pass: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
        .into_bytes()
    }

    #[test]
    fn the_right_credentials_pass_and_anything_else_says_why() {
        let expected = SecretString::from("drain:s3cret".to_string());
        assert_eq!(check(Some(&basic("drain:s3cret")), &expected), Ok(()));
        assert_eq!(
            check(Some(&basic("drain:s3creT")), &expected),
            Err(AuthFailure::Wrong)
        );
        assert_eq!(
            check(Some(&basic("drain:s3cret2")), &expected),
            Err(AuthFailure::Wrong)
        );
        assert_eq!(
            check(Some(&basic("drain:")), &expected),
            Err(AuthFailure::Wrong)
        );
        assert_eq!(check(None, &expected), Err(AuthFailure::Missing));
        assert_eq!(
            check(Some(b"Bearer abc"), &expected),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(
            check(Some(b"Basic not base64!"), &expected),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(
            check(Some(&basic("no-colon")), &expected),
            Err(AuthFailure::Malformed)
        );
    }

    #[test]
    fn the_scheme_is_case_insensitive() {
        let expected = SecretString::from("u:p".to_string());
        let header = format!(
            "basic {}",
            base64::engine::general_purpose::STANDARD.encode("u:p")
        );
        assert_eq!(check(Some(header.as_bytes()), &expected), Ok(()));
    }
}
