//! All integration tests in one binary (one link step, shared helpers).

mod app_metric;
mod aws;
mod body_limit;
mod cli;
mod clock;
mod config;
mod deadlines;
mod decide;
mod docs_reference;
mod engine;
mod exactly_once;
mod fault_matrix;
mod google_analytics;
mod heartbeat;
mod helpers;
mod heroku;
#[path = "../fakes/heroku_account.rs"]
mod heroku_account;
mod history;
mod http_probe;
mod lambda;
mod metrics;
mod new_relic;
mod new_relic_nrql;
mod notifications;
mod operator;
mod pingdom;
mod rate_limit;
mod redis_queue;
mod rules;
mod schedules;
mod secrets_echoed;
mod simulate;
mod state_schema;
mod tune;
