//! Builds an [`Engine`] from a config for local runs (CLI): file or memory state,
//! the local scaler, console notifications. The Lambda entry point has its own.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{Config, EnvSecrets, HeartbeatUrl, ScalerConfig, SecretResolver, StateConfig};
use crate::engine::Engine;
use crate::heartbeat::{Heartbeat, HttpHeartbeat};
use crate::inputs::{BuildContext, MetricSource};
use crate::notify::ConsoleNotifier;
use crate::scaler::{HerokuScaler, LocalScaler, MemoryScaler, Scaler};
use crate::store::{FileStateStore, MemoryStateStore, StateStore};

/// Build every input's source from its validated settings.
///
/// # Errors
/// The first input whose source cannot be built, with its field path.
pub fn build_sources(
    config: &Config,
    ctx: &BuildContext<'_>,
) -> Result<Vec<Vec<Arc<dyn MetricSource>>>, String> {
    config
        .formations
        .iter()
        .enumerate()
        .map(|(f, formation)| {
            formation
                .inputs
                .iter()
                .enumerate()
                .map(|(i, input)| {
                    input
                        .spec
                        .build(ctx)
                        .map_err(|e| format!("formations[{f}].inputs[{i}]: {e}"))
                })
                .collect()
        })
        .collect()
}

/// The shared HTTP client: a User-Agent naming dynopilot, and connect timeouts
/// short enough that one unreachable host cannot eat the invocation.
///
/// # Errors
/// When the TLS backend cannot be initialised.
pub fn http_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .user_agent(concat!("dynopilot/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// The Heroku scaler of a `[scaler] kind = "heroku"` config, its token resolved.
///
/// # Errors
/// When the config's scaler is not Heroku's, or `scaler.token` does not resolve
/// (the message names the reference, never a value).
pub fn heroku_scaler(
    scaler: &ScalerConfig,
    secrets: &dyn SecretResolver,
    http: &reqwest::Client,
) -> Result<Arc<dyn Scaler>, String> {
    let ScalerConfig::Heroku {
        token,
        base_url,
        retry_budget,
    } = scaler
    else {
        return Err("scaler.kind: the heroku scaler is not configured".into());
    };
    let token = secrets
        .resolve(token)
        .map_err(|e| format!("scaler.token: {e}"))?;
    let budget = retry_budget.to_std().unwrap_or_default();
    let scaler = HerokuScaler::new(http.clone(), base_url, token, budget)
        .map_err(|e| format!("scaler.base_url: {e}"))?;
    Ok(Arc::new(scaler))
}

/// The heartbeat of a config with `[heartbeat]`, its URL resolved when it is a
/// reference. The Lambda entry point uses this too.
///
/// # Errors
/// When `heartbeat.url` does not resolve or is not an http(s) URL (the message
/// names the reference, never the URL: it may hold the check's secret id).
pub fn heartbeat(
    config: &Config,
    secrets: &dyn SecretResolver,
    http: &reqwest::Client,
) -> Result<Option<Arc<dyn Heartbeat>>, String> {
    let Some(h) = &config.heartbeat else {
        return Ok(None);
    };
    let url = match &h.url {
        HeartbeatUrl::Plain(url) => secrecy::SecretString::from(url.clone()),
        HeartbeatUrl::Secret(reference) => secrets
            .resolve(reference)
            .map_err(|e| format!("heartbeat.url: {e}"))?,
    };
    let timeout = h
        .timeout
        .to_std()
        .unwrap_or(std::time::Duration::from_secs(5));
    let heartbeat = HttpHeartbeat::new(http.clone(), url, h.method, timeout)
        .map_err(|e| format!("heartbeat.url: {e}"))?;
    Ok(Some(Arc::new(heartbeat)))
}

/// Each app's process types at their `min`, the local scaler's starting point.
fn initial_counts(config: &Config) -> BTreeMap<String, BTreeMap<String, u32>> {
    let mut counts: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    for f in &config.formations {
        counts
            .entry(f.app.clone())
            .or_default()
            .insert(f.process_type.clone(), f.policy.min.lowest());
    }
    counts
}

/// An in-memory platform with every configured process type at its lowest `min`.
pub fn memory_scaler(config: &Config) -> MemoryScaler {
    let scaler = MemoryScaler::new();
    for (app, types) in initial_counts(config) {
        for (process_type, q) in types {
            scaler.set(&app, &process_type, q);
        }
    }
    scaler
}

/// The local world: state per config (or `state_path` when given), the local
/// scaler, console notifications.
///
/// # Errors
/// When an input's source cannot be built.
pub fn build_local(config: Config, state_path: Option<PathBuf>) -> Result<Engine, String> {
    let http = http_client()?;
    let sources = build_sources(
        &config,
        &BuildContext {
            secrets: &EnvSecrets,
            http: &http,
        },
    )?;
    let state = match (state_path, &config.state) {
        (Some(path), _) => StateConfig::File { path },
        (None, StateConfig::DynamoDb { .. }) => {
            return Err("[state] kind = \"dynamodb\" is the Lambda function's store; for a local run pass --state FILE".into())
        }
        (None, state) => state.clone(),
    };
    let (store, scaler): (Arc<dyn StateStore>, Arc<dyn Scaler>) = match (state, &config.scaler) {
        (state, ScalerConfig::Heroku { .. }) => {
            let store: Arc<dyn StateStore> = match state {
                StateConfig::File { path } => Arc::new(FileStateStore::new(path)),
                _ => Arc::new(MemoryStateStore::new()),
            };
            (store, heroku_scaler(&config.scaler, &EnvSecrets, &http)?)
        }
        (StateConfig::File { path }, ScalerConfig::Local) => {
            let store = Arc::new(FileStateStore::new(path));
            let scaler = Arc::new(LocalScaler::new(store.clone(), initial_counts(&config)));
            (store, scaler)
        }
        (_, ScalerConfig::Local) => (
            Arc::new(MemoryStateStore::new()),
            Arc::new(memory_scaler(&config)),
        ),
    };
    let heartbeat = heartbeat(&config, &EnvSecrets, &http)?;
    let engine = Engine::new(
        Arc::new(config),
        sources,
        store,
        scaler,
        Arc::new(ConsoleNotifier),
    )?;
    Ok(match heartbeat {
        Some(h) => engine.with_heartbeat(h),
        None => engine,
    })
}
