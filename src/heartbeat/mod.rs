//! Port `Heartbeat`: a dead-man's switch pinged after each successful invocation.
//!
//! A scheduled function that silently stops running (a broken deploy, a
//! disabled rule, an expired token failing every run) scales nothing and says
//! nothing. Dynosaur pinged Cronut for this; a healthchecks.io-style monitor
//! mails when the pings stop. A failed ping is reported and logged but never
//! fails the invocation: the dynos matter more than the monitor.

mod http;
mod recording;

use async_trait::async_trait;

pub use http::HttpHeartbeat;
pub use recording::RecordingHeartbeat;

/// Why a ping was not accepted. Never holds the URL (it may embed the check's
/// secret id).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("heartbeat not accepted: {0}")]
pub struct HeartbeatError(pub String);

/// Port: tell the monitor this invocation completed.
///
/// Contract: returns within the adapter's timeout; `Ok` only when the monitor
/// accepted the ping (a 2xx answer).
#[async_trait]
pub trait Heartbeat: Send + Sync {
    /// # Errors
    /// [`HeartbeatError`] on a timeout, a connection error or a non-2xx answer.
    async fn ping(&self) -> Result<(), HeartbeatError>;
}
