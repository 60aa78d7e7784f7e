//! All integration tests in one binary (one link step, shared helpers).

mod app_metric;
mod google_analytics;
mod helpers;
mod http_probe;
mod redis_queue;
