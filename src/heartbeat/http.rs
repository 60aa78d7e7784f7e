//! `HttpHeartbeat`: GET or POST a URL (healthchecks.io, Cronitor, Cronut style).
//!
//! Only the status counts: the body is never read (dropping the response
//! closes the connection), so a monitor answering megabytes costs no memory.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::{Heartbeat, HeartbeatError};
use crate::config::HeartbeatMethod;

pub struct HttpHeartbeat {
    http: reqwest::Client,
    /// Secret because healthchecks.io-style URLs are the check's only credential.
    url: SecretString,
    method: HeartbeatMethod,
    timeout: Duration,
}

impl HttpHeartbeat {
    /// # Errors
    /// When `url` is not an http(s) URL (the message does not repeat it).
    pub fn new(
        http: reqwest::Client,
        url: SecretString,
        method: HeartbeatMethod,
        timeout: Duration,
    ) -> Result<Self, String> {
        let ok = reqwest::Url::parse(url.expose_secret())
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
        if !ok {
            return Err("the heartbeat URL is not an http(s) URL".into());
        }
        Ok(Self {
            http,
            url,
            method,
            timeout,
        })
    }
}

#[async_trait]
impl Heartbeat for HttpHeartbeat {
    async fn ping(&self) -> Result<(), HeartbeatError> {
        let url = self.url.expose_secret();
        let request = match self.method {
            HeartbeatMethod::Get => self.http.get(url),
            HeartbeatMethod::Post => self.http.post(url).body(""),
        };
        let span = tracing::info_span!("heartbeat", method = self.method.as_str());
        let _enter = span.enter();
        match request.timeout(self.timeout).send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(HeartbeatError(format!(
                "the monitor answered {}",
                response.status()
            ))),
            Err(e) if e.is_timeout() => Err(HeartbeatError(format!(
                "no answer within {}s",
                self.timeout.as_secs_f64()
            ))),
            // `without_url`: reqwest's message would otherwise carry the URL.
            Err(e) => Err(HeartbeatError(e.without_url().to_string())),
        }
    }
}
