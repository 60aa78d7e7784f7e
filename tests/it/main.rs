//! All integration tests in one binary (one link step, shared helpers).

mod helpers;
mod google_analytics;
mod http_probe;
mod app_metric;
mod redis_queue;
