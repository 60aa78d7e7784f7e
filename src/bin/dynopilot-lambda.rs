//! The Lambda function's entry point (`bootstrap`). Only wiring: the work is in
//! `dynopilot::lambda`.

use std::sync::Arc;

use dynopilot::lambda::{Function, Payload};
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // JSON or text per the function's logging config: what CloudWatch Logs expects.
    lambda_runtime::tracing::init_default_subscriber();
    let function = match Function::cold_start().await {
        Ok(f) => Arc::new(f),
        Err(e) => {
            tracing::error!(error = %e, "cold start failed");
            return Err(e.into());
        }
    };
    // `Payload` accepts any bytes, so a payload that is not JSON reaches the
    // handler and is answered `InvalidEvent`, not with the runtime's own error.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Payload>| {
        let function = function.clone();
        async move {
            function
                .handle_payload(
                    &event.payload,
                    &event.context.request_id,
                    event.context.deadline,
                )
                .await
                .map_err(Diagnostic::from)
        }
    }))
    .await
}
