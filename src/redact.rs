//! One redaction step that knows every secret the process holds.
//!
//! Providers echo what they were sent: a 401 from an API gateway may quote the
//! request's headers, `X-Api-Key` and `Authorization` included, and that body
//! would then reach the report, the logs, the stored `last_error`, the mail
//! and the Lambda response. So every secret is registered here when it is
//! resolved (every `SecretResolver` calls [`register`] on each value it hands
//! out, and adapters register credentials they obtain at run time, such as
//! GA4 access tokens), and every error text that quotes an external body goes
//! through [`redact`] before it is cut to length (a cut could leave half a
//! secret that no longer matches).
//!
//! A leaf module: it imports nothing from the crate, so anything may use it.

use std::sync::RwLock;

/// What a secret is replaced by.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this are not registered: replacing two or three
/// characters wherever they appear would garble every message, and a value
/// that short is not guarded by keeping it out of messages anyway.
pub const MIN_SECRET_LEN: usize = 6;

/// Registered forms beyond this many are dropped oldest first: a warm Lambda
/// environment registers a new GA4 access token (about six forms) every hour
/// per GA4 input, and the registry must not grow for ever. 4096 forms keep
/// ten such inputs' tokens for more than two days after the secrets resolved
/// at cold start.
const MAX_FORMS: usize = 4096;

/// Every registered form, oldest first.
static FORMS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remember `secret` (and the forms it travels in) so that [`redact`] replaces
/// it. Idempotent; cheap enough to call on every resolution.
pub fn register(secret: &str) {
    let new: Vec<String> = forms(secret)
        .into_iter()
        .filter(|f| f.chars().count() >= MIN_SECRET_LEN)
        .collect();
    if new.is_empty() {
        return;
    }
    let mut known = FORMS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for form in new {
        if !known.contains(&form) {
            known.push(form);
        }
    }
    if known.len() > MAX_FORMS {
        let excess = known.len() - MAX_FORMS;
        known.drain(..excess);
    }
}

/// `value`, after registering it: for resolvers, which hand the value on.
pub fn keep<S: AsRef<str>>(value: S) -> S {
    register(value.as_ref());
    value
}

/// `text` with every registered secret, in any of its forms, replaced by
/// [`REDACTED`].
pub fn redact(text: &str) -> String {
    let known = FORMS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Longest first, so a secret that contains another is replaced whole.
    let mut by_length: Vec<&String> = known.iter().filter(|f| text.contains(f.as_str())).collect();
    by_length.sort_by_key(|f| std::cmp::Reverse(f.len()));
    let mut out = text.to_string();
    for form in by_length {
        out = out.replace(form.as_str(), REDACTED);
    }
    out
}

/// The forms a secret is seen in when a provider echoes a request: as is,
/// trimmed (a value pasted into an env var often ends in a newline, and the
/// adapters send it trimmed), percent-encoded (in a URL), JSON-escaped (in a
/// JSON echo), base64 (a header some gateways log encoded); for a URL with
/// `user:password@`, the password alone and the Basic-auth credential
/// `base64(user:password)` too.
fn forms(secret: &str) -> Vec<String> {
    let trimmed = secret.trim();
    let mut out = vec![
        secret.to_string(),
        trimmed.to_string(),
        percent_encode(trimmed),
        json_escape(trimmed),
        base64(trimmed.as_bytes()),
    ];
    if let Some((user, password)) = url_credentials(trimmed) {
        out.push(base64(format!("{user}:{password}").as_bytes()));
        out.push(percent_decode(&password));
        out.push(password);
    }
    out.retain(|f| !f.is_empty());
    out.dedup();
    out
}

/// `user` and `password` of `scheme://user:password@host...`, as written.
fn url_credentials(url: &str) -> Option<(String, String)> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (user, password) = userinfo.split_once(':')?;
    (!password.is_empty()).then(|| (user.to_string(), password.to_string()))
}

/// RFC 3986 percent-encoding of everything but the unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value as it appears inside a JSON string (`"` and `\` escaped, and `/`
/// as `\/`, which some encoders emit).
fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648), as in `Authorization: Basic`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_secret_is_replaced_wherever_it_appears() {
        register("NRAK-REDACTUNITTEST0001");
        let echoed = r#"{"error":"invalid key","headers":{"X-Api-Key":"NRAK-REDACTUNITTEST0001"}} NRAK-REDACTUNITTEST0001"#;
        let out = redact(echoed);
        assert!(!out.contains("NRAK-REDACTUNITTEST0001"), "{out}");
        assert_eq!(out.matches(REDACTED).count(), 2, "{out}");
        assert!(out.contains("invalid key"));
    }

    #[test]
    fn encoded_forms_are_replaced_too() {
        let secret = "tok/en+with space=0002\n";
        register(secret);
        for form in [
            "tok/en+with space=0002",
            "tok%2Fen%2Bwith%20space%3D0002",
            "tok\\/en+with space=0002",
            &base64(b"tok/en+with space=0002"),
        ] {
            let out = redact(&format!("echo: {form}."));
            assert_eq!(out, format!("echo: {REDACTED}."), "{form}");
        }
    }

    #[test]
    fn the_password_of_a_url_and_its_basic_credential_are_replaced() {
        register("redis://h:pa55w0rd-redact@redis.example:6379");
        assert_eq!(redact("auth pa55w0rd-redact"), format!("auth {REDACTED}"));
        let basic = base64(b"h:pa55w0rd-redact");
        assert_eq!(
            redact(&format!("Authorization: Basic {basic}")),
            format!("Authorization: Basic {REDACTED}")
        );
    }

    #[test]
    fn short_values_and_unknown_text_are_left_alone() {
        register("abc");
        register("");
        assert_eq!(redact("abc def"), "abc def");
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
    }
}
