//! The one place an [`Engine`] is assembled from a config: sources from the
//! input registry, the scaler and heartbeat the config asks for, over the
//! state store and notifier the caller chose. The Lambda function
//! ([`crate::lambda::Function`]) and the CLI ([`build_local`]) both call
//! [`assemble`]; they differ only in the store, the notifier and the secrets.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{Config, HeartbeatUrl, MetricsConfig, ScalerConfig, StateConfig};
use crate::engine::Engine;
use crate::heartbeat::{Heartbeat, HttpHeartbeat};
use crate::history::{DynamoDbHistoryStore, FileHistoryStore, HistoryStore, MemoryHistoryStore};
use crate::inputs::{BuildContext, MetricSource};
use crate::notify::{ConsoleNotifier, Notifier};
use crate::scaler::{HerokuScaler, LocalScaler, MemoryScaler, Scaler};
use crate::secrets::{EnvSecrets, SecretResolver};
use crate::store::{DynamoDbStateStore, FileStateStore, MemoryStateStore, StateStore};

/// Where state lives. The local scaler keeps its counts in the state file, so
/// it needs to know when the store is a file.
#[derive(Clone)]
pub enum StateBackend {
    File(Arc<FileStateStore>),
    Memory(Arc<MemoryStateStore>),
    /// Any other store (DynamoDB in the Lambda; fakes in tests).
    Other(Arc<dyn StateStore>),
}

impl StateBackend {
    /// The history store that goes with it: files beside a state file, memory
    /// beside memory; `None` for any other store (the Lambda function adds
    /// DynamoDB's itself, see [`crate::lambda::Function::cold_start`]).
    pub fn history(&self) -> Option<Arc<dyn HistoryStore>> {
        match self {
            Self::File(s) => Some(Arc::new(FileHistoryStore::beside(s.path()))),
            Self::Memory(_) => Some(Arc::new(MemoryHistoryStore::new())),
            Self::Other(_) => None,
        }
    }

    pub fn store(&self) -> Arc<dyn StateStore> {
        match self {
            Self::File(s) => s.clone(),
            Self::Memory(s) => s.clone(),
            Self::Other(s) => s.clone(),
        }
    }
}

/// What only the caller can provide.
pub struct Parts<'a> {
    /// Resolves `env:`/`ssm:` references (secrets are never in the config).
    pub secrets: &'a dyn SecretResolver,
    pub state: StateBackend,
    pub notifier: Arc<dyn Notifier>,
}

/// An assembled function: the engine, and what its callers print with.
pub struct Assembled {
    pub engine: Engine,
    /// Where the EMF lines go (namespace and dimension names).
    pub metrics: MetricsConfig,
}

/// Build everything a config asks for around the caller's parts.
///
/// # Errors
/// A message naming the config field at fault (an input whose source cannot
/// be built, a secret reference that does not resolve; never a secret value).
pub fn assemble(config: Config, parts: Parts<'_>) -> Result<Assembled, String> {
    let http = http_client()?;
    let sources = build_sources(
        &config,
        &BuildContext {
            secrets: parts.secrets,
            http: &http,
        },
    )?;
    let scaler: Arc<dyn Scaler> = match (&config.scaler, &parts.state) {
        (ScalerConfig::Heroku { .. }, _) => heroku_scaler(&config.scaler, parts.secrets, &http)?,
        (ScalerConfig::Local, StateBackend::File(file)) => {
            Arc::new(LocalScaler::new(file.clone(), initial_counts(&config)))
        }
        (ScalerConfig::Local, StateBackend::Memory(_)) => Arc::new(memory_scaler(&config)),
        (ScalerConfig::Local, StateBackend::Other(_)) => {
            tracing::warn!("scaler kind \"local\" with a shared store: dyno counts live in memory only (try-out mode)");
            Arc::new(memory_scaler(&config))
        }
    };
    let heartbeat = heartbeat(&config, parts.secrets, &http)?;
    let metrics = config.metrics.clone();
    let history = parts.state.history();
    let mut engine = Engine::new(config, sources, parts.state.store(), scaler, parts.notifier)?;
    if let Some(history) = history {
        engine = engine.with_history(history);
    }
    if let Some(heartbeat) = heartbeat {
        engine = engine.with_heartbeat(heartbeat);
    }
    Ok(Assembled { engine, metrics })
}

/// The store of a local run: the config's `[state]`, or `state_path` when given.
///
/// # Errors
/// For `[state] kind = "dynamodb"`, which needs AWS credentials: the CLI's
/// `status`/`pause`/`resume` open it with [`crate::store::DynamoDbStateStore`].
pub fn local_state(config: &Config, state_path: Option<PathBuf>) -> Result<StateBackend, String> {
    match (state_path, &config.state) {
        (Some(path), _) => Ok(StateBackend::File(Arc::new(FileStateStore::new(path)))),
        (None, StateConfig::File { path }) => Ok(StateBackend::File(Arc::new(FileStateStore::new(
            path.clone(),
        )))),
        (None, StateConfig::Memory) => Ok(StateBackend::Memory(Arc::new(MemoryStateStore::new()))),
        (None, StateConfig::DynamoDb { .. }) => Err(
            "[state] kind = \"dynamodb\" is the Lambda function's store; for a local run pass --state FILE"
                .into(),
        ),
    }
}

/// The store an operator's command opens: `state_path` when given, else the
/// config's `[state]`, DynamoDB included (credentials, region and endpoint
/// from the environment, as the AWS CLI reads them; `DYNOPILOT_TABLE`
/// overrides the table, as in the Lambda function).
///
/// # Errors
/// Never for DynamoDB here (a bad table or credentials show on first use).
pub async fn open_state(
    config: &Config,
    state_path: Option<PathBuf>,
) -> Result<StateBackend, String> {
    match (&state_path, &config.state) {
        (None, StateConfig::DynamoDb { table }) => {
            let table = std::env::var("DYNOPILOT_TABLE")
                .ok()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| table.clone());
            let aws = aws_config::load_from_env().await;
            Ok(StateBackend::Other(Arc::new(DynamoDbStateStore::new(
                aws_sdk_dynamodb::Client::new(&aws),
                table,
            ))))
        }
        _ => local_state(config, state_path),
    }
}

/// The history store an operator's command reads (`tune`, charts): beside
/// the state file, or DynamoDB's in the config's table (as [`open_state`]).
///
/// # Errors
/// As [`open_state`].
pub async fn open_history(
    config: &Config,
    state_path: Option<PathBuf>,
) -> Result<Arc<dyn HistoryStore>, String> {
    match (&state_path, &config.state) {
        (None, StateConfig::DynamoDb { table }) => {
            let table = std::env::var("DYNOPILOT_TABLE")
                .ok()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| table.clone());
            let aws = aws_config::load_from_env().await;
            Ok(Arc::new(DynamoDbHistoryStore::new(
                aws_sdk_dynamodb::Client::new(&aws),
                table,
            )))
        }
        _ => local_state(config, state_path)?
            .history()
            .ok_or_else(|| "no history store for this state".to_string()),
    }
}

/// The local world: state per config (or `state_path` when given), the
/// scaler per config, console notifications, `env:` secrets.
///
/// # Errors
/// When an input's source, the scaler or the heartbeat cannot be built.
pub fn build_local(config: Config, state_path: Option<PathBuf>) -> Result<Engine, String> {
    Ok(assemble_local(config, state_path)?.engine)
}

/// [`build_local`], with the metrics settings the CLI's `--emf` prints with.
///
/// # Errors
/// As [`build_local`].
pub fn assemble_local(config: Config, state_path: Option<PathBuf>) -> Result<Assembled, String> {
    let state = local_state(&config, state_path)?;
    assemble(
        config,
        Parts {
            secrets: &EnvSecrets,
            state,
            notifier: Arc::new(ConsoleNotifier),
        },
    )
}

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
/// reference.
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
