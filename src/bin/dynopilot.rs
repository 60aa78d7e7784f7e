//! The `dynopilot` command: check a config, run one invocation, loop like
//! Dynosaur's daemon did, backtest a config on a trace (`simulate`), and the
//! operator's verbs (`status`, `pause`, `resume`, `init`) over the configured
//! state store — the local file, or DynamoDB like the Lambda function.
//! Only wiring: the work is in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SubsecRound, Utc};
use clap::{Parser, Subcommand};
use dynopilot::config::{self, Config, ConfigError, MetricsConfig};
use dynopilot::engine::{self, Engine, Invocation, Outcome, Report};
use dynopilot::simulate::synthetic::{self, Shape};
use dynopilot::simulate::{self, parse_minute, SimOptions, Trace};
use dynopilot::wiring::Assembled;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "dynopilot", version, about = "Heroku dyno autoscaler")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show each formation's (and add-on's) stored state: count or plan, pause,
    /// pending change, last decisions with reasons, open notification episodes.
    #[command(
        after_help = "Example:\n  dynopilot status --config dynopilot.toml --formation shop-api/web\n  dynopilot status --config dynopilot.toml --json\n  dynopilot status --config dynopilot.toml --html status.html"
    )]
    Status {
        #[command(flatten)]
        target: Target,
        /// Print JSON (the Lambda's `status` answer) instead of a table.
        #[arg(long)]
        json: bool,
        /// Also write the status page (HTML with charts, as `GET /status` serves it) to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Pause formations (and add-ons): runs still decide and report, but do not
    /// scale (nor change a plan).
    #[command(
        after_help = "Example:\n  dynopilot pause --for 2h --config dynopilot.toml --formation shop-api/web\n  dynopilot pause --for 1d --config dynopilot.toml --formation shop-api/heroku-redis"
    )]
    Pause {
        #[command(flatten)]
        target: Target,
        /// How long, e.g. 30m, 2h, 1d.
        #[arg(long = "for", value_parser = humantime::parse_duration)]
        duration: Duration,
    },
    /// Resume paused formations (and add-ons).
    #[command(
        after_help = "Example:\n  dynopilot resume --config dynopilot.toml --formation shop-api/web"
    )]
    Resume {
        #[command(flatten)]
        target: Target,
    },
    /// Write a commented starter config. With a Heroku token (the variable named
    /// by --token-env) and --app it reads the app's process types; otherwise it
    /// writes the demo config.
    #[command(
        after_help = "Example:\n  HEROKU_API_TOKEN=... dynopilot init --app shop-api --out dynopilot.toml\n  dynopilot check-config dynopilot.toml"
    )]
    Init {
        /// The Heroku app to read.
        #[arg(long)]
        app: Option<String>,
        /// Where to write it.
        #[arg(long, default_value = "dynopilot.toml")]
        out: PathBuf,
        /// The environment variable holding the Heroku API token.
        #[arg(long, default_value = "HEROKU_API_TOKEN")]
        token_env: String,
        /// Heroku API root (tests and proxies).
        #[arg(long, default_value = dynopilot::scaler::HEROKU_BASE_URL)]
        base_url: String,
        /// Overwrite --out if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Validate a config file: print it with every default filled in, or every error.
    CheckConfig {
        /// The TOML config file.
        file: PathBuf,
    },
    /// Run invocations: one with --once (prints the JSON report), else every --every.
    Run {
        /// The TOML config file (default: the embedded demo config).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Run one invocation, print its report and exit.
        #[arg(long)]
        once: bool,
        /// Time between invocations when looping.
        #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
        every: Duration,
        /// Stop after this many invocations when looping.
        #[arg(long)]
        cycles: Option<u64>,
        /// Keep state in this file instead of the config's `[state]`.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Decide and report, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Decide as of this time (RFC 3339) instead of the clock; with --once only.
        /// More than 5 minutes off the clock it is a what-if: a dry run on a
        /// copy of the state, which is left as it was.
        #[arg(long, requires = "once")]
        now: Option<DateTime<Utc>>,
        /// Also print the CloudWatch Embedded Metric Format lines (stdout, after
        /// the report or the summary lines), as the Lambda does.
        #[arg(long)]
        emf: bool,
    },
    /// Backtest a config: replay a load trace through the engine with a simulated
    /// Heroku and print the accounting against the ideal (JSON).
    Simulate(SimulateArgs),
    /// Search rule parameters on a formation's own history (or a trace) and
    /// print the frontier and the cheapest choice within `--risk` (JSON).
    Tune(TuneArgs),
    /// Draw simulated configs' cost against shortfall (one SVG) and count the
    /// predecessor points some dynopilot point dominates (JSON).
    Frontier(FrontierArgs),
}

#[derive(clap::Args)]
struct FrontierArgs {
    /// A JSON array of points: {family, side ("predecessor" | "dynopilot"),
    /// label, cost_vs_oracle, under_provisioned_pct, default}.
    #[arg(long)]
    points: PathBuf,
    /// Write the SVG drawing here.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// The drawing's title.
    #[arg(long, default_value = "frontier")]
    title: String,
}

#[derive(clap::Args)]
struct TuneArgs {
    /// The TOML config file.
    #[arg(long)]
    config: PathBuf,
    /// A load trace (the simulator's CSV, one value per minute) instead of
    /// the formation's stored history.
    #[arg(long)]
    history: Option<PathBuf>,
    /// With the stored history: this state file instead of the config's `[state]`.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Which formation (app/type name), when the config has several.
    #[arg(long)]
    formation: Option<String>,
    /// Load one ready dyno serves per minute (default: the `capacity` rule's per-dyno value).
    #[arg(long)]
    capacity: Option<f64>,
    /// Minutes from ordering a dyno until it serves.
    #[arg(long, default_value_t = 1)]
    boot_minutes: usize,
    /// Most under-provisioned minutes accepted, in % (default: the formation's `risk`).
    #[arg(long)]
    risk: Option<f64>,
    /// Write the config with the chosen parameters filled in here.
    #[arg(long)]
    emit: Option<PathBuf>,
}

/// Which config, store and formations an operator's verb acts on.
#[derive(clap::Args)]
struct Target {
    /// The TOML config file (default: the embedded demo config).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Only this formation or add-on (by name, e.g. app/web, app/heroku-redis); repeatable. Default: all.
    #[arg(long)]
    formation: Vec<String>,
    /// Use this state file instead of the config's `[state]`.
    #[arg(long)]
    state: Option<PathBuf>,
}

#[derive(clap::Args)]
struct SimulateArgs {
    /// The TOML config file.
    #[arg(long)]
    config: PathBuf,
    /// The load trace: CSV, a header then `timestamp,value` rows, one per minute.
    #[arg(
        long,
        required_unless_present = "synthetic",
        conflicts_with = "synthetic"
    )]
    trace: Option<PathBuf>,
    /// Instead of --trace, a generated trace: diurnal, spiky, flash or ramp.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(Shape::ALL.map(Shape::name)))]
    synthetic: Option<String>,
    /// Length of the synthetic trace in days.
    #[arg(long, default_value_t = 30, requires = "synthetic")]
    days: u32,
    /// Seed of the synthetic trace.
    #[arg(long, default_value_t = 1, requires = "synthetic")]
    seed: u64,
    /// Start the replay at this minute of the trace (`YYYY-MM-DD HH:MM`).
    #[arg(long)]
    from: Option<String>,
    /// Replay only this many minutes (from --from, or the first row).
    #[arg(long)]
    minutes: Option<usize>,
    /// Load units one ready dyno serves per minute.
    #[arg(long, default_value_t = 40.0)]
    capacity: f64,
    /// Minutes from ordering a dyno until it serves.
    #[arg(long, default_value_t = 1)]
    boot_minutes: usize,
    /// Response time of an idle dyno, ms.
    #[arg(long, default_value_t = 100.0)]
    service_ms: f64,
    /// Which formation, when the config has several.
    #[arg(long)]
    formation: Option<String>,
    /// Also write the report (JSON) here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write per-minute load, target, quantity, ready (CSV) here.
    #[arg(long)]
    series: Option<PathBuf>,
    /// Write a plot (SVG) here.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Write the (sliced or synthetic) trace replayed (CSV) here.
    #[arg(long)]
    write_trace: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A backtest replays thousands of minutes, outages included: the engine's
    // per-minute warnings ("poll failed") would drown the report, so simulate
    // logs errors only unless RUST_LOG asks for more.
    let default_level = match cli.command {
        Command::Simulate(_) => "error",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        // Colour codes only on a terminal: logs redirected to a file stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Status { target, json, html } => control(&target, Verb::Status { json, html }),
        Command::Pause { target, duration } => control(&target, Verb::Pause(duration)),
        Command::Resume { target } => control(&target, Verb::Resume),
        Command::Init {
            app,
            out,
            token_env,
            base_url,
            force,
        } => init(app.as_deref(), &out, &token_env, &base_url, force),
        Command::Simulate(args) => simulate(&args),
        Command::Frontier(args) => match frontier(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("frontier: {e}");
                ExitCode::from(2)
            }
        },
        Command::Tune(args) => match try_tune(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tune: {e}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            config,
            once,
            every,
            cycles,
            state,
            dry_run,
            now,
            emf,
        } => {
            let config = match load(config.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            let clock = Utc::now().trunc_subsecs(0);
            let (what_if, dry_run) = match now {
                Some(t) if (t - clock).abs() > dynopilot::domain::CLOCK_TOLERANCE => {
                    match WhatIf::copy(state.as_ref(), &config) {
                        Ok(w) => {
                            eprintln!("--now {} is more than 5m off the clock: a what-if, run dry on a copy of the state (left as it was)", t.format("%Y-%m-%dT%H:%M:%SZ"));
                            (Some(w), true)
                        }
                        Err(e) => {
                            eprintln!("cannot copy the state for --now: {e}");
                            return ExitCode::from(2);
                        }
                    }
                }
                _ => (None, dry_run),
            };
            let state = what_if.as_ref().map(|w| w.path.clone()).or(state);
            let Assembled { engine, metrics } =
                match dynopilot::wiring::assemble_local(config, state) {
                    Ok(assembled) => assembled,
                    Err(e) => {
                        eprintln!("cannot start: {e}");
                        return ExitCode::from(2);
                    }
                };
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            runtime.block_on(async {
                if once {
                    let invocation = Invocation {
                        dry_run,
                        // A what-if replays its own time on a copy: nothing to repair.
                        now_checked: what_if.is_none(),
                        ..Invocation::at(now.unwrap_or(clock))
                    };
                    run_once(&engine, &invocation, emf.then_some(&metrics)).await
                } else {
                    run_loop(&engine, every, cycles, dry_run, emf.then_some(&metrics)).await
                }
            })
        }
    }
}

fn load(path: Option<&std::path::Path>) -> Result<Config, ConfigError> {
    match path {
        Some(path) => config::load(path),
        None => config::parse(config::DEMO_CONFIG),
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match config::load(file) {
        Ok(config) => {
            match serde_json::to_string_pretty(&config.describe()) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("cannot print config: {e}"),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn simulate(args: &SimulateArgs) -> ExitCode {
    match try_simulate(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("simulate: {e}");
            ExitCode::from(2)
        }
    }
}

fn write(path: &std::path::Path, what: &str, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {what} {}: {e}", path.display()))
}

fn try_simulate(args: &SimulateArgs) -> Result<(), String> {
    let config = config::load(&args.config).map_err(|e| e.to_string())?;
    let (trace, name) = match (&args.trace, &args.synthetic) {
        (Some(path), _) => (
            Trace::load(path).map_err(|e| e.to_string())?,
            path.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        ),
        (None, Some(shape)) => {
            let shape = Shape::parse(shape).ok_or_else(|| format!("unknown shape {shape:?}"))?;
            (
                synthetic::generate(shape, args.days, args.seed),
                format!(
                    "synthetic {} ({} days, seed {})",
                    shape.name(),
                    args.days,
                    args.seed
                ),
            )
        }
        (None, None) => return Err("give --trace FILE or --synthetic SHAPE".into()),
    };
    let from = match &args.from {
        Some(text) => {
            let at = parse_minute(text)
                .ok_or_else(|| format!("--from {text:?} is not a minute like 1995-07-13 00:00"))?;
            trace
                .index_of(at)
                .ok_or_else(|| format!("--from {text}: the trace does not cover that minute"))?
        }
        None => 0,
    };
    let trace = trace.slice(from, args.minutes.unwrap_or(usize::MAX));
    if let Some(path) = &args.write_trace {
        write(path, "trace", &trace.to_csv())?;
    }
    let options = SimOptions {
        capacity: args.capacity,
        boot_minutes: args.boot_minutes,
        service_ms: args.service_ms,
        formation: args.formation.clone(),
    };
    let started = Instant::now();
    let sim = simulate::run(config, Arc::new(trace), &options).map_err(|e| e.to_string())?;
    let elapsed = started.elapsed().as_secs_f64();
    let report = serde_json::to_string_pretty(&sim.report).map_err(|e| e.to_string())?;
    println!("{report}");
    eprintln!(
        "simulated {} minutes in {elapsed:.3} s ({:.0} minutes/s)",
        sim.report.minutes,
        sim.report.minutes as f64 / elapsed.max(1e-9)
    );
    if let Some(path) = &args.out {
        write(path, "report", &format!("{report}\n"))?;
    }
    if let Some(path) = &args.series {
        write(path, "series", &sim.series_csv())?;
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "{}: {} ({} to {})",
            sim.report.formation,
            name,
            sim.report.from.format("%Y-%m-%d %H:%M"),
            sim.report.to.format("%Y-%m-%d %H:%M")
        );
        write(path, "plot", &simulate::plot_svg(&sim, &title)?)?;
    }
    Ok(())
}

fn try_tune(args: &TuneArgs) -> Result<(), String> {
    use dynopilot::domain::CapacityRule;
    use dynopilot::tune::{default_grid, emit::emit, tune, TuneInput};
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| format!("cannot read {}: {e}", args.config.display()))?;
    let config = config::parse(&text).map_err(|e| e.to_string())?;
    let formation = match &args.formation {
        Some(name) => config
            .formations
            .iter()
            .find(|f| &f.name == name)
            .ok_or_else(|| format!("no formation named {name:?}"))?,
        None if config.formations.len() == 1 => &config.formations[0],
        None => {
            return Err("the config has several formations: choose one with --formation".into())
        }
    };
    let first = formation
        .policy
        .inputs
        .first()
        .ok_or("the formation has no input")?;
    let configured = first.rule.downcast::<CapacityRule>().map(|c| c.per_dyno);
    let capacity = args
        .capacity
        .or(configured)
        .ok_or("give --capacity: the formation's rule is not `capacity`, so its per-dyno load is not in the config")?;
    let minutes: Vec<(DateTime<Utc>, Option<f64>)> = match &args.history {
        Some(path) => {
            let trace = Trace::load(path).map_err(|e| e.to_string())?;
            (0..trace.len())
                .map(|i| (trace.minute(i), trace.values[i]))
                .collect()
        }
        None => {
            let runtime = tokio::runtime::Runtime::new()
                .map_err(|e| format!("cannot start the async runtime: {e}"))?;
            runtime.block_on(async {
                let state = dynopilot::wiring::open_state(&config, args.state.clone()).await?;
                let history = dynopilot::wiring::open_history(&config, args.state.clone()).await?;
                let now = Utc::now();
                let records = dynopilot::history::read_minutes(
                    history.as_ref(),
                    state.store().as_ref(),
                    &formation.key(),
                    now - formation.history,
                    now,
                )
                .await
                .map_err(|e| e.to_string())?;
                let minutes: Vec<_> = records
                    .into_iter()
                    .map(|r| (r.at, r.inputs.get(&first.name).copied().flatten()))
                    .collect();
                // Minutes without a run are gaps, not skipped time.
                Ok::<_, String>(dynopilot::tune::fill_gaps(&minutes))
            })?
        }
    };
    let now = minutes.last().map_or_else(Utc::now, |m| m.0);
    let tuning = tune(
        &TuneInput {
            policy: &formation.policy,
            minutes: &minutes,
            capacity,
            boot_minutes: args.boot_minutes,
            risk_pct: args.risk.unwrap_or(formation.risk_pct),
            now,
        },
        &default_grid(),
    );
    let report = serde_json::json!({
        "formation": formation.name,
        "capacity": capacity,
        "boot_minutes": args.boot_minutes,
        "in_force": {
            "hysteresis": dynopilot::fields::format_duration(formation.policy.hysteresis),
            "risk": format!("{}%", args.risk.unwrap_or(formation.risk_pct)),
            "rule": first.rule.name(),
            "source": format!("the config {}", args.config.display()),
        },
        "tuning": tuning,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
    );
    match (&tuning.chosen, &tuning.reason) {
        (Some(chosen), _) => eprintln!(
            "chosen: {:?} over {} minutes: {:.3} × oracle, {:.2}% under-provisioned",
            chosen.candidate,
            tuning.minutes_used,
            chosen.score.cost_vs_oracle,
            chosen.score.under_provisioned_pct
        ),
        (None, Some(reason)) => eprintln!("no suggestion: {reason}"),
        (None, None) => {}
    }
    if let (Some(path), Some(chosen)) = (&args.emit, &tuning.chosen) {
        let per_dyno_key = formation
            .inputs
            .first()
            .map_or("per_dyno", |i| i.per_dyno_key);
        let out = emit(
            &text,
            &formation.app,
            &formation.process_type,
            per_dyno_key,
            &chosen.candidate,
            capacity,
        )?;
        write(path, "tuned config", &out)?;
    }
    Ok(())
}

fn failed(report: &Report) -> bool {
    report
        .formations
        .iter()
        .any(|f| f.outcome == Outcome::Failed)
        || !report.errors.is_empty()
}

/// `--emf`: the metric lines the Lambda would print, for trying dimensions locally.
fn print_emf(metrics: &MetricsConfig, report: &Report) {
    for line in dynopilot::metrics::emf_lines(report, metrics) {
        println!("{line}");
    }
}

async fn run_once(
    engine: &Engine,
    invocation: &Invocation,
    emf: Option<&MetricsConfig>,
) -> ExitCode {
    let report = engine.invoke(invocation).await;
    match serde_json::to_string_pretty(&report) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("cannot print report: {e}"),
    }
    if let Some(metrics) = emf {
        print_emf(metrics, &report);
    }
    if failed(&report) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn run_loop(
    engine: &Engine,
    every: Duration,
    cycles: Option<u64>,
    dry_run: bool,
    emf: Option<&MetricsConfig>,
) -> ExitCode {
    let mut ticker = tokio::time::interval(every.max(Duration::from_millis(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut done = 0u64;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        }
        let invocation = Invocation {
            dry_run,
            now_checked: true,
            ..Invocation::at(Utc::now().trunc_subsecs(0))
        };
        let report = engine.invoke(&invocation).await;
        for formation in &report.formations {
            println!(
                "{} {}",
                report.now.format("%Y-%m-%dT%H:%M:%SZ"),
                formation.summary()
            );
        }
        for error in &report.errors {
            println!("{} error: {error}", report.now.format("%Y-%m-%dT%H:%M:%SZ"));
        }
        if let Some(metrics) = emf {
            print_emf(metrics, &report);
        }
        done += 1;
        if cycles.is_some_and(|c| done >= c) {
            return ExitCode::SUCCESS;
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("cannot start the async runtime: {e}");
        ExitCode::FAILURE
    })
}

enum Verb {
    Status { json: bool, html: Option<PathBuf> },
    Pause(Duration),
    Resume,
}

/// `status`, `pause`, `resume`: the same library calls as the Lambda's events,
/// over the configured store (no inputs are built, no secret is needed).
fn control(target: &Target, verb: Verb) -> ExitCode {
    let config = match load(target.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let unknown: Vec<&String> = target
        .formation
        .iter()
        .filter(|name| {
            !config.formations.iter().any(|f| &f.name == *name)
                && !config.addons.iter().any(|a| &a.name == *name)
        })
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = config
            .formations
            .iter()
            .map(|f| f.name.as_str())
            .chain(config.addons.iter().map(|a| a.name.as_str()))
            .collect();
        eprintln!(
            "unknown formation(s) {unknown:?}; the config has: {}",
            known.join(", ")
        );
        return ExitCode::from(2);
    }
    let picked = |name: &String| target.formation.is_empty() || target.formation.contains(name);
    let formations: Vec<_> = config
        .formations
        .iter()
        .filter(|f| picked(&f.name))
        .cloned()
        .collect();
    let addons: Vec<_> = config
        .addons
        .iter()
        .filter(|a| picked(&a.name))
        .cloned()
        .collect();
    let runtime = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(async {
        let store = match dynopilot::wiring::open_state(&config, target.state.clone()).await {
            Ok(state) => state.store(),
            Err(e) => {
                eprintln!("cannot open the state store: {e}");
                return ExitCode::from(2);
            }
        };
        let now = Utc::now().trunc_subsecs(0);
        match verb {
            Verb::Status { json, html } => {
                let status = engine::status(&formations, store.as_ref()).await;
                let addon_status = engine::addon_status(&addons, store.as_ref()).await;
                if let Some(path) = html {
                    // Recorded history when the store has it; else the state's window.
                    let extras = match dynopilot::wiring::open_history(
                        &config,
                        target.state.clone(),
                    )
                    .await
                    {
                        Ok(history) => {
                            dynopilot::status_page::recorded_extras(
                                &formations,
                                history.as_ref(),
                                store.as_ref(),
                                now,
                            )
                            .await
                        }
                        Err(e) => {
                            eprintln!(
                                "no recorded history ({e}): the charts show the stored window"
                            );
                            std::collections::BTreeMap::new()
                        }
                    };
                    let view = dynopilot::status_page::build_view(
                        &formations,
                        &status,
                        &extras,
                        now,
                        config.dry_run,
                    );
                    if let Err(e) = std::fs::write(&path, dynopilot::status_page::render(&view)) {
                        eprintln!("cannot write {}: {e}", path.display());
                        return ExitCode::FAILURE;
                    }
                    eprintln!("status page written to {}", path.display());
                }
                if json {
                    let mut out = serde_json::json!({ "formations": status });
                    if !addon_status.is_empty() {
                        out["addons"] = serde_json::json!(addon_status);
                    }
                    match serde_json::to_string_pretty(&out) {
                        Ok(text) => println!("{text}"),
                        Err(e) => eprintln!("cannot print status: {e}"),
                    }
                } else {
                    print!("{}", status_table(&status, now));
                    print!("{}", addon_table(&addon_status, now));
                }
                if status.iter().any(|s| s.error.is_some())
                    || addon_status.iter().any(|s| s.error.is_some())
                {
                    ExitCode::FAILURE
                } else {
                    ExitCode::SUCCESS
                }
            }
            Verb::Pause(_) | Verb::Resume => {
                let until = match verb {
                    Verb::Pause(d) => match chrono::TimeDelta::from_std(d) {
                        Ok(d)
                            if d > chrono::TimeDelta::zero()
                                && d <= chrono::TimeDelta::days(30) =>
                        {
                            Some(now + d)
                        }
                        _ => {
                            eprintln!("--for must be more than 0 and at most 30 days");
                            return ExitCode::from(2);
                        }
                    },
                    _ => None,
                };
                let mut code = ExitCode::SUCCESS;
                for f in &formations {
                    match engine::set_pause(&formations, store.as_ref(), &f.name, until).await {
                        Ok(s) => println!("{}", pause_line(&s.name, s.paused_until, "")),
                        Err(e) => {
                            eprintln!("{}: {e}", f.name);
                            code = ExitCode::FAILURE;
                        }
                    }
                }
                for a in &addons {
                    match engine::set_addon_pause(&addons, store.as_ref(), &a.name, until).await {
                        Ok(s) => println!(
                            "{}",
                            pause_line(&s.name, s.paused_until, " (its plan is not changed)")
                        ),
                        Err(e) => {
                            eprintln!("{}: {e}", a.name);
                            code = ExitCode::FAILURE;
                        }
                    }
                }
                code
            }
        }
    })
}

/// `status` for people: one block per formation.
fn status_table(status: &[engine::FormationStatus], now: DateTime<Utc>) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for s in status {
        let _ = writeln!(out, "{} ({} {})", s.name, s.app, s.process_type);
        if let Some(e) = &s.error {
            let _ = writeln!(out, "  error:    {e}");
        }
        let _ = match &s.current {
            Some(c) => writeln!(
                out,
                "  count:    {} (as of {})",
                c.quantity,
                c.at.format("%Y-%m-%d %H:%M:%SZ")
            ),
            None => writeln!(out, "  count:    unknown (no run recorded yet)"),
        };
        let _ = match s.paused_until {
            Some(until) if until > now => writeln!(
                out,
                "  paused:   until {}",
                until.format("%Y-%m-%d %H:%M:%SZ")
            ),
            _ => writeln!(out, "  paused:   no"),
        };
        if let Some(p) = &s.pending {
            let _ = writeln!(
                out,
                "  pending:  {} -> {} claimed at {}",
                p.from,
                p.to,
                p.at.format("%H:%M:%SZ")
            );
        }
        episodes_lines(&mut out, &s.episodes);
        if s.last_decisions.is_empty() {
            let _ = writeln!(out, "  decisions: none yet");
        } else {
            let _ = writeln!(out, "  decisions (newest last):");
            for d in s.last_decisions.iter().rev().take(5).rev() {
                let _ = writeln!(
                    out,
                    "    {}  {} -> {}  {}{}: {}",
                    d.at.format("%Y-%m-%d %H:%M"),
                    d.current,
                    d.target,
                    d.reason.code.as_str(),
                    if d.applied { "" } else { " (not applied)" },
                    d.reason.text
                );
            }
        }
    }
    out
}

/// `status` for people: one block per add-on.
/// What `pause`/`resume` did to one formation or add-on.
fn pause_line(name: &str, paused_until: Option<DateTime<Utc>>, note: &str) -> String {
    match paused_until {
        Some(at) => format!(
            "{name}: paused until {}{note}",
            at.format("%Y-%m-%d %H:%M:%SZ")
        ),
        None => format!("{name}: resumed"),
    }
}

/// The open notification episodes of a formation or add-on, one line each.
fn episodes_lines(
    out: &mut String,
    episodes: &std::collections::BTreeMap<String, dynopilot::store::EpisodeMark>,
) {
    use std::fmt::Write as _;
    if episodes.is_empty() {
        let _ = writeln!(out, "  episodes: none open");
    }
    for (key, mark) in episodes {
        let _ = writeln!(
            out,
            "  episode:  {key} since {}",
            mark.since.format("%Y-%m-%d %H:%M:%SZ")
        );
    }
}

fn addon_table(status: &[engine::AddonStatus], now: DateTime<Utc>) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for s in status {
        let which = match &s.addon {
            dynopilot::scaler::AddonRef::Name(n) => format!("add-on {n}"),
            dynopilot::scaler::AddonRef::Service(v) => format!("the {v} add-on"),
        };
        let _ = writeln!(out, "{} ({which} of {})", s.name, s.app);
        if let Some(e) = &s.error {
            let _ = writeln!(out, "  error:    {e}");
        }
        let _ = match (&s.plan, s.plan_at) {
            (Some(plan), Some(at)) => writeln!(
                out,
                "  plan:     {plan} (as of {})",
                at.format("%Y-%m-%d %H:%M:%SZ")
            ),
            (Some(plan), None) => writeln!(out, "  plan:     {plan}"),
            (None, _) => writeln!(out, "  plan:     unknown (no run recorded yet)"),
        };
        let _ = match s.paused_until {
            Some(until) if until > now => writeln!(
                out,
                "  paused:   until {}",
                until.format("%Y-%m-%d %H:%M:%SZ")
            ),
            _ => writeln!(out, "  paused:   no"),
        };
        if let Some(p) = &s.pending {
            let _ = writeln!(
                out,
                "  pending:  -> {} claimed at {}",
                p.plan.as_deref().unwrap_or("?"),
                p.at.format("%H:%M:%SZ")
            );
        }
        let _ = match &s.last_change {
            Some(c) => writeln!(
                out,
                "  changed:  {} -> {} at {}",
                c.from,
                c.to,
                c.at.format("%Y-%m-%d %H:%M:%SZ")
            ),
            None => writeln!(out, "  changed:  never by dynopilot"),
        };
        episodes_lines(&mut out, &s.episodes);
        if s.last_decisions.is_empty() {
            let _ = writeln!(out, "  decisions: none yet");
        } else {
            let _ = writeln!(out, "  decisions (newest last):");
            for d in s.last_decisions.iter().rev().take(5).rev() {
                let _ = writeln!(
                    out,
                    "    {}  {} -> {}{}: {}",
                    d.at.format("%Y-%m-%d %H:%M"),
                    d.from,
                    d.to,
                    if d.applied { "" } else { " (not applied)" },
                    d.reason.text
                );
            }
        }
    }
    out
}

/// `init`: the starter config from the app's formation, or the demo config.
fn init(
    app: Option<&str>,
    out: &std::path::Path,
    token_env: &str,
    base_url: &str,
    force: bool,
) -> ExitCode {
    if out.exists() && !force {
        eprintln!("{} exists; pass --force to overwrite it", out.display());
        return ExitCode::from(2);
    }
    let token = std::env::var(token_env).ok().filter(|t| !t.is_empty());
    let text = match (app, token) {
        (Some(app), Some(token)) => {
            let runtime = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            let scaler = dynopilot::wiring::http_client().and_then(|http| {
                dynopilot::scaler::HerokuScaler::new(
                    http,
                    base_url,
                    secrecy::SecretString::from(token),
                    Duration::from_secs(10),
                )
                .map_err(|e| format!("--base-url: {e}"))
            });
            let scaler = match scaler {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            match runtime.block_on(dynopilot::init::from_heroku(&scaler, app, token_env)) {
                Ok(text) => text,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        (Some(app), None) => {
            eprintln!(
                "{token_env} is not set: cannot read {app}'s formation; writing the demo config instead"
            );
            dynopilot::init::demo()
        }
        (None, _) => dynopilot::init::demo(),
    };
    if let Err(e) = config::parse(&text) {
        eprintln!("internal error: the starter config does not pass check-config: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = std::fs::write(out, &text) {
        eprintln!("cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    eprintln!(
        "wrote {}; check it with: dynopilot check-config {}",
        out.display(),
        out.display()
    );
    ExitCode::SUCCESS
}

/// `--now` far off the clock: everything a run stores is dated with `now`, so
/// a what-if at another time runs dry on a throwaway copy of the state file
/// (removed when done) and the real one is never dated wrongly.
struct WhatIf {
    path: PathBuf,
}

impl WhatIf {
    fn copy(state: Option<&PathBuf>, config: &Config) -> Result<Self, String> {
        let path = std::env::temp_dir().join(format!(
            "dynopilot-what-if-{}-{}.json",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        let original = state.cloned().or(match &config.state {
            config::StateConfig::File { path } => Some(path.clone()),
            _ => None,
        });
        if let Some(original) = original.filter(|p| p.exists()) {
            std::fs::copy(&original, &path).map_err(|e| format!("{}: {e}", original.display()))?;
        }
        Ok(Self { path })
    }
}

impl Drop for WhatIf {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let mut lock = self.path.clone().into_os_string();
        lock.push(".lock");
        let _ = std::fs::remove_file(lock);
    }
}

/// `frontier`: the points' SVG and their domination counts.
fn frontier(args: &FrontierArgs) -> Result<(), String> {
    use dynopilot::simulate::frontier_plot::{family_counts, frontier_svg, FrontierPoint};
    let text = std::fs::read_to_string(&args.points)
        .map_err(|e| format!("cannot read {}: {e}", args.points.display()))?;
    let points: Vec<FrontierPoint> = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not a JSON array of points: {e}", args.points.display()))?;
    if let Some(path) = &args.svg {
        write(path, "frontier", &frontier_svg(&args.title, &points)?)?;
    }
    let counts = family_counts(&points);
    println!(
        "{}",
        serde_json::to_string_pretty(&counts).map_err(|e| e.to_string())?
    );
    Ok(())
}
