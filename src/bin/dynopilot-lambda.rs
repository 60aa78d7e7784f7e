//! The Lambda function's entry point (`bootstrap`). Only wiring: the work is in
//! `dynopilot::lambda`.

use std::sync::Arc;

use dynopilot::lambda::Function;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

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
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let function = function.clone();
        async move {
            function
                .handle(
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
