//! All integration tests in one binary (one link step, shared helpers).

mod cli;
mod config;
mod decide;
mod engine;
mod exactly_once;
mod helpers;
mod heroku;
mod new_relic;
mod new_relic_nrql;
mod pingdom;
mod rules;
mod schedules;
