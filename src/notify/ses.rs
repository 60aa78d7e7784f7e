//! `SesNotifier`: notifications as plain-text mail through Amazon SES (v2 SendEmail).
//!
//! The sender (or its domain) must be a verified SES identity; in the SES
//! sandbox every recipient must be verified too. A rejected or failed send is
//! returned as [`NotifyError`]; the engine logs it and carries on.

use crate::error_text::sdk_message;
use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_sdk_sesv2::Client;

use super::{Notification, Notifier, NotifyError};

#[derive(Debug, Clone)]
pub struct SesNotifier {
    client: Client,
    from: String,
    to: Vec<String>,
}

impl SesNotifier {
    pub fn new(client: Client, from: impl Into<String>, to: Vec<String>) -> Self {
        Self {
            client,
            from: from.into(),
            to,
        }
    }
}

fn text(data: &str) -> Result<Content, NotifyError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| NotifyError(format!("cannot build the mail: {e}")))
}

#[async_trait]
impl Notifier for SesNotifier {
    async fn send(&self, n: &Notification) -> Result<(), NotifyError> {
        let message = Message::builder()
            .subject(text(&n.subject)?)
            .body(Body::builder().text(text(&n.body)?).build())
            .build();
        let out = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(self.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| NotifyError(format!("SES SendEmail failed: {}", sdk_message(&e))))?;
        tracing::info!(message_id = out.message_id.as_deref().unwrap_or("-"), subject = %n.subject, "mail sent");
        Ok(())
    }
}
