//! Error texts shared by every adapter: an AWS SDK error as one line (every
//! `aws-sdk-*` crate uses the same `SdkError` type and metadata trait from the
//! smithy runtime), and any error with its causes (reqwest's own text, "error
//! sending request", hides the useful part: connection refused, DNS, TLS).

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

/// An error with its sources, `outer: inner: root`, each cause once (some
/// errors already repeat their source in their own text). Callers strip URLs
/// first (`reqwest::Error::without_url`) and name the service themselves.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let next = cause.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1
                .as_deref()
                .map(|l| l as &(dyn std::error::Error + 'static))
        }
    }

    #[test]
    fn an_error_chain_names_every_cause_once() {
        let root = Layer("Connection refused (os error 111)", None);
        let mid = Layer("client error (Connect)", Some(Box::new(root)));
        let top = Layer("error sending request", Some(Box::new(mid)));
        assert_eq!(
            error_chain(&top),
            "error sending request: client error (Connect): Connection refused (os error 111)"
        );
        let repeats = Layer(
            "tcp connect error: Connection refused",
            Some(Box::new(Layer("Connection refused", None))),
        );
        assert_eq!(
            error_chain(&repeats),
            "tcp connect error: Connection refused"
        );
    }
}
