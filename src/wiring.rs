//! The one place an [`Engine`] is assembled from a config: sources from the
//! input registry, the scaler and heartbeat the config asks for, over the
//! state store and notifier the caller chose. The Lambda function
//! ([`crate::lambda::Function`]) and the CLI ([`build_local`]) both call
//! [`assemble`]; they differ only in the store, the notifier and the secrets.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::AddonInputKind;
use crate::config::{Config, HeartbeatUrl, MetricsConfig, ScalerConfig, StateConfig};
use crate::drain_store::{DrainStore, FileDrainStore, MemoryDrainStore};
use crate::engine::{AddonWorld, Engine};
use crate::heartbeat::{Heartbeat, HttpHeartbeat};
use crate::history::{DynamoDbHistoryStore, FileHistoryStore, HistoryStore, MemoryHistoryStore};
use crate::inputs::{BuildContext, MetricSource, MetricUsage, UsageSource};
use crate::notify::{ConsoleNotifier, Notifier};
use crate::scaler::{
    AddonPlans, AddonRef, HerokuScaler, LocalScaler, MemoryAddons, MemoryScaler, Scaler,
};
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
    /// The log-drain aggregates; `None`: beside a file or memory state, none
    /// for another store (drain inputs then fail to build, saying so).
    pub drain: Option<Arc<dyn DrainStore>>,
}

/// The drain aggregates that go with a state backend: a file beside the state
/// file, memory with memory.
pub fn drain_beside(state: &StateBackend) -> Option<Arc<dyn DrainStore>> {
    match state {
        StateBackend::File(file) => Some(Arc::new(FileDrainStore::beside(file.path()))),
        StateBackend::Memory(_) => Some(Arc::new(MemoryDrainStore::new())),
        StateBackend::Other(_) => None,
    }
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
    let drain = parts.drain.clone().or_else(|| drain_beside(&parts.state));
    let sources = build_sources(
        &config,
        &BuildContext {
            secrets: parts.secrets,
            http: &http,
            drain,
            formation: None,
        },
    )?;
    let addon_sources = build_addon_sources(
        &config,
        &BuildContext {
            secrets: parts.secrets,
            http: &http,
            drain: None,
            formation: None,
        },
    )?;
    let mut addon_plans: Arc<dyn AddonPlans> = Arc::new(memory_addons(&config));
    let scaler: Arc<dyn Scaler> = match (&config.scaler, &parts.state) {
        (ScalerConfig::Heroku { .. }, _) => {
            // One client for formations and add-ons: one view of the rate limit.
            let heroku = heroku_client(&config.scaler, parts.secrets, &http)?;
            addon_plans = heroku.clone();
            heroku
        }
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
    let has_addons = !config.addons.is_empty();
    let history = parts.state.history();
    let mut engine = Engine::new(config, sources, parts.state.store(), scaler, parts.notifier)?;
    if has_addons {
        engine = engine.with_addons(AddonWorld {
            sources: addon_sources,
            plans: addon_plans,
        })?;
    }
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
            drain: None,
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
            let ctx = BuildContext {
                secrets: ctx.secrets,
                http: ctx.http,
                drain: ctx.drain.clone(),
                formation: Some((&formation.app, &formation.process_type)),
            };
            formation
                .inputs
                .iter()
                .enumerate()
                .map(|(i, input)| {
                    input
                        .spec
                        .build(&ctx)
                        .map_err(|e| format!("formations[{f}].inputs[{i}]: {e}"))
                })
                .collect()
        })
        .collect()
}

/// Build every add-on input's source.
///
/// # Errors
/// The first input whose source cannot be built, with its field path.
pub fn build_addon_sources(
    config: &Config,
    ctx: &BuildContext<'_>,
) -> Result<Vec<Vec<Arc<dyn UsageSource>>>, String> {
    config
        .addons
        .iter()
        .enumerate()
        .map(|(a, addon)| {
            addon
                .inputs
                .iter()
                .enumerate()
                .map(|(i, input)| {
                    let built: Result<Arc<dyn UsageSource>, String> = match &input.kind {
                        AddonInputKind::RedisInfo(spec) => spec.build(ctx),
                        AddonInputKind::Metric { measures, spec, .. } => {
                            spec.build(ctx).map(|source| {
                                Arc::new(MetricUsage {
                                    source,
                                    dimension: measures.clone(),
                                }) as Arc<dyn UsageSource>
                            })
                        }
                    };
                    built.map_err(|e| format!("addons[{a}].inputs[{i}]: {e}"))
                })
                .collect()
        })
        .collect()
}

/// Add-ons in memory, each on its `min_plan` (local try-out runs).
pub fn memory_addons(config: &Config) -> MemoryAddons {
    let addons = MemoryAddons::new();
    for a in &config.addons {
        let name = match &a.addon {
            AddonRef::Name(n) | AddonRef::Service(n) => n,
        };
        addons.set(&a.app, name, &a.policy.plans[a.policy.min_plan].name);
    }
    addons
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
    Ok(heroku_client(scaler, secrets, http)?)
}

/// [`heroku_scaler`] as the client itself, which also serves add-ons.
///
/// # Errors
/// As [`heroku_scaler`].
pub fn heroku_client(
    scaler: &ScalerConfig,
    secrets: &dyn SecretResolver,
    http: &reqwest::Client,
) -> Result<Arc<HerokuScaler>, String> {
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
