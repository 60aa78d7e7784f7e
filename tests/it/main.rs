//! All integration tests in one binary (one link step, shared helpers).

mod helpers;
mod heroku;
mod new_relic;
mod new_relic_nrql;
mod pingdom;
