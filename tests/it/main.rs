//! All integration tests in one binary (one link step, shared helpers).

mod addon_exactly_once;
mod addon_operator;
mod addons;
mod app_metric;
mod aws;
mod body_limit;
mod cli;
mod clock;
mod config;
mod deadlines;
mod decide;
mod docs_reference;
mod drain;
mod drain_e2e;
mod engine;
mod exactly_once;
mod fault_matrix;
mod google_analytics;
mod heartbeat;
mod helpers;
mod heroku;
#[path = "../fakes/heroku_account.rs"]
mod heroku_account;
#[path = "../fakes/heroku_addons.rs"]
mod heroku_addons;
mod history;
mod http_probe;
mod lambda;
#[path = "../fakes/logplex.rs"]
mod logplex;
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
mod sizes;
mod state_schema;
mod status_fixture;
mod status_http;
mod status_page;
mod tune;
mod tuning_modes;
