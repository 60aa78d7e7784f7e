//! `[status_page]`: the Basic credentials of `GET /status` on the
//! `dynopilot-http` function (the operator's HTML page).
//!
//! Its own secret, by reference like every other: not a drain's, so that
//! whoever can read a drain URL (Heroku stores it in the app's drain list)
//! cannot open the page, and each can be rotated alone.

use serde_json::{json, Value};

use crate::fields::{Fields, KeyDoc};
use crate::secrets::SecretRef;

use super::DrainConfig;

/// `[status_page]` keys.
pub const STATUS_PAGE_KEYS: &[KeyDoc] = &[KeyDoc::new(
    "credentials",
    None,
    "reference to \"user:password\" of GET /status's Basic credentials, \"env:NAME\" or \"ssm:/path\" (not a drain's)",
)];

/// Where the page's `user:password` lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPageConfig {
    pub credentials: SecretRef,
}

impl StatusPageConfig {
    pub fn describe(&self) -> Value {
        json!({ "credentials": self.credentials.describe() })
    }
}

/// Read `[status_page]` (absent: `Some(None)`, no page; invalid: `None`).
pub fn read(top: &mut Fields, drains: Option<&[DrainConfig]>) -> Option<Option<StatusPageConfig>> {
    let present = top.has("status_page");
    let Some(mut t) = top.opt_table("status_page") else {
        return (!present).then_some(None);
    };
    let Some(text) = t.req_str("credentials") else {
        t.finish();
        return None;
    };
    let credentials = match SecretRef::parse(&text) {
        Ok(r) => r,
        Err(e) => {
            t.error("credentials", e);
            t.finish();
            return None;
        }
    };
    if drains
        .unwrap_or_default()
        .iter()
        .any(|d| d.credentials == credentials)
    {
        t.error(
            "credentials",
            "must be a secret of its own, not a drain's credentials",
        );
        t.finish();
        return None;
    }
    t.finish();
    Some(Some(StatusPageConfig { credentials }))
}
