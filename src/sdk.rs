//! Shared handling of AWS SDK errors (every `aws-sdk-*` crate uses the same
//! `SdkError` type and metadata trait from the smithy runtime).

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// An SDK error as one short line: the service's code and message when it
/// answered (`ConditionalCheckFailedException: ...`), else the transport
/// problem with its causes. The SDK's own Display of a service error dumps the
/// whole raw response, which is unreadable in a report.
pub(crate) fn sdk_message<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.code() {
        Some(code) => format!("{code}: {}", e.message().unwrap_or("(no message)")),
        None => DisplayErrorContext(e).to_string(),
    }
}
