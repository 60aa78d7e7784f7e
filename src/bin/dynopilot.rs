//! The `dynopilot` command: check a config, run one invocation, or loop like
//! Dynosaur's daemon did. Only wiring: the work is in the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use clap::{Parser, Subcommand};
use dynopilot::config::{self, Config, ConfigError};
use dynopilot::engine::{Engine, Invocation, Outcome, Report};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "dynopilot", version, about = "Heroku dyno autoscaler")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
        #[arg(long, requires = "once")]
        now: Option<DateTime<Utc>>,
        /// Also print the CloudWatch Embedded Metric Format lines (stdout, after
        /// the report or the summary lines), as the Lambda does.
        #[arg(long)]
        emf: bool,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => check_config(&file),
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
            let engine = match dynopilot::wiring::build_local(config, state) {
                Ok(engine) => engine,
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
                    run_once(
                        &engine,
                        now.unwrap_or_else(|| Utc::now().trunc_subsecs(0)),
                        dry_run,
                        emf,
                    )
                    .await
                } else {
                    run_loop(&engine, every, cycles, dry_run, emf).await
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

fn failed(report: &Report) -> bool {
    report
        .formations
        .iter()
        .any(|f| f.outcome == Outcome::Failed)
        || !report.errors.is_empty()
}

/// `--emf`: the metric lines the Lambda would print, for trying dimensions locally.
fn print_emf(engine: &Engine, report: &Report) {
    for line in dynopilot::metrics::emf_lines(report, &engine.config().metrics) {
        println!("{line}");
    }
}

async fn run_once(engine: &Engine, now: DateTime<Utc>, dry_run: bool, emf: bool) -> ExitCode {
    let invocation = Invocation {
        dry_run,
        ..Invocation::at(now)
    };
    let report = engine.invoke(&invocation).await;
    match serde_json::to_string_pretty(&report) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("cannot print report: {e}"),
    }
    if emf {
        print_emf(engine, &report);
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
    emf: bool,
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
        if emf {
            print_emf(engine, &report);
        }
        done += 1;
        if cycles.is_some_and(|c| done >= c) {
            return ExitCode::SUCCESS;
        }
    }
}
