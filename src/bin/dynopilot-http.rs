//! The HTTP function's entry point (`bootstrap` of the Function URL's Lambda):
//! `POST /drain` (Heroku log drains), `GET /status` (the status page). Only wiring: the work is in
//! `dynopilot::http`.

use std::sync::Arc;

use dynopilot::http::{Request, Router};
use lambda_http::{service_fn, Body, Error, Request as LambdaRequest, Response};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let router = match dynopilot::http::cold_start().await {
        Ok(r) => Arc::new(r),
        Err(e) => {
            tracing::error!(error = %e, "cold start failed");
            return Err(e.into());
        }
    };
    lambda_http::run(service_fn(move |request: LambdaRequest| {
        let router = router.clone();
        async move { answer(&router, request).await }
    }))
    .await
}

async fn answer(router: &Router, request: LambdaRequest) -> Result<Response<Body>, Error> {
    let (parts, body) = request.into_parts();
    // lambda_http decoded the base64 body already.
    let body = match body {
        Body::Empty => Vec::new(),
        Body::Text(text) => text.into_bytes(),
        Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    let request = Request {
        method: parts.method,
        path: parts.uri.path().to_string(),
        headers: parts.headers,
        body,
    };
    let answer = router.handle(request, chrono::Utc::now()).await;
    let mut response = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        response = response.header(*name, value);
    }
    let typed = answer
        .headers
        .iter()
        .any(|(name, _)| *name == "content-type");
    let body = if answer.body.is_empty() {
        Body::Empty
    } else {
        if !typed {
            response = response.header("content-type", "text/plain; charset=utf-8");
        }
        Body::Text(answer.body)
    };
    Ok(response.body(body)?)
}
