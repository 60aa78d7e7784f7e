//! All integration tests in one binary (one link step, shared helpers).

mod cli;
mod config;
mod decide;
mod engine;
mod exactly_once;
mod helpers;
mod rules;
mod schedules;
