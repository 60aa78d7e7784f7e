//! `tune` as the engine runs it (the Lambda's `{"action": "tune"}`), and the
//! rule parameters each scheduled run decides with.
//!
//! For each formation whose `tuning` is not `"off"`: judge the previous
//! choice on the day after its span, read the formation's recorded minutes
//! (never one at or after `now`), search the grid ([`crate::tune::tune`]),
//! store the result with its evidence (the record `app#type#tuning`) and the
//! chosen parameters (`tuned` in the formation's record), and notify.
//!
//! With `tuning = "apply"` a scheduled run decides with the tuned rule and
//! window in place of the configured ones; min, max and their schedules, step
//! limits, cool-offs and the fail-safe stay as configured
//! ([`crate::tune::Candidate::apply`] touches nothing else). Every report
//! names the parameters in force and where they came from ([`Parameters`]).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use tracing::{info, warn};

use crate::config::FormationConfig;
use crate::domain::{CapacityRule, Policy};
use crate::fields::format_duration;
use crate::history::read_minutes;
use crate::notify::{Notification, NotificationKind, Phase};
use crate::store::tuning::{
    tuning_key, TunedMark, TuningCheck, TuningMode, TuningRecord, MAX_FRONTIER_POINTS,
};
use crate::store::{FormationState, StoreError};
use crate::tune::{
    default_grid, fill_gaps, replay_from, tune, worse_than_predicted, TuneInput, CHECK_SLACK_PCT,
    DEFAULT_BOOT_MINUTES,
};

use super::Engine;

/// Minutes before the judged day replayed to warm the check up.
const CHECK_WARM_UP: TimeDelta = TimeDelta::hours(1);
/// A formation is not started with less than this left before the
/// invocation's deadline: one formation's search takes seconds (see the
/// `tune` benchmark), and a run cut mid-way would store nothing for it.
pub const TUNE_RESERVE: std::time::Duration = std::time::Duration::from_secs(10);
/// How many times a state write is retried when a scheduled run wrote the
/// formation at the same moment.
const ATTEMPTS: u32 = 5;

/// The rule parameters a run decides with, and where they came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameters {
    /// `config`, or `tuned` (`tuning = "apply"` with a stored choice).
    pub source: &'static str,
    /// The first input's rule in force, e.g. `capacity`.
    pub rule: String,
    /// The hysteresis (stabilisation) window in force.
    pub hysteresis: String,
    /// The tuned choice in words, when it is in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuned: Option<String>,
    /// When the tuned choice was made and the history span it was made on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tuned_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_from: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_to: Option<DateTime<Utc>>,
    /// One sentence for people.
    pub note: String,
}

/// The load one dyno serves per minute, from the config: the first input's
/// `capacity` rule setting.
pub fn config_capacity(f: &FormationConfig) -> Option<f64> {
    f.policy
        .inputs
        .first()
        .and_then(|i| i.rule.downcast::<CapacityRule>())
        .map(|c| c.per_dyno)
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%MZ").to_string()
}

/// The policy a scheduled run decides with (`Some`: the tuned one) and the
/// report's account of it. Pure.
pub fn parameters_in_force(
    f: &FormationConfig,
    tuned: Option<&TunedMark>,
) -> (Option<Policy>, Parameters) {
    let configured = |note: String| {
        (
            None,
            Parameters {
                source: "config",
                rule: f
                    .policy
                    .inputs
                    .first()
                    .map_or("-".to_string(), |i| i.rule.name().to_string()),
                hysteresis: format_duration(f.policy.hysteresis),
                tuned: None,
                tuned_at: None,
                span_from: None,
                span_to: None,
                note,
            },
        )
    };
    if f.tuning != TuningMode::Apply {
        return configured(format!(
            "the config's rule parameters (tuning = \"{}\")",
            f.tuning.as_str()
        ));
    }
    let Some(mark) = tuned else {
        return configured(
            "the config's rule parameters: tuning = \"apply\", but tune has made no choice yet"
                .into(),
        );
    };
    if f.policy.inputs.len() != 1 {
        return configured(
            "the config's rule parameters: tuned parameters apply to formations with one input"
                .into(),
        );
    }
    match config_capacity(f) {
        Some(c) if (c - mark.capacity).abs() <= 1e-9 * c.abs().max(1.0) => {}
        other => {
            return configured(format!(
                "the config's rule parameters: the choice tuned at {} was made for a dyno serving {}, the config now says {}",
                stamp(mark.at),
                mark.capacity,
                other.map_or("no capacity rule".to_string(), |c| c.to_string())
            ))
        }
    }
    let policy = mark.candidate.apply(&f.policy, mark.capacity);
    let label = mark.candidate.label();
    let parameters = Parameters {
        source: "tuned",
        rule: policy
            .inputs
            .first()
            .map_or("-".to_string(), |i| i.rule.name().to_string()),
        hysteresis: format_duration(policy.hysteresis),
        note: format!(
            "tuned at {} from the history {} .. {}: {label}; min, max, schedules, step limits, cool-offs and fail-safe from the config",
            stamp(mark.at),
            stamp(mark.from),
            stamp(mark.to)
        ),
        tuned: Some(label),
        tuned_at: Some(mark.at),
        span_from: Some(mark.from),
        span_to: Some(mark.to),
    };
    (Some(policy), parameters)
}

/// What a `tune` event did.
#[derive(Debug, Clone, Serialize)]
pub struct TuneReport {
    pub now: DateTime<Utc>,
    pub formations: Vec<FormationTuning>,
}

/// One formation's `tune`.
#[derive(Debug, Clone, Serialize)]
pub struct FormationTuning {
    pub name: String,
    pub tuning: TuningMode,
    /// `tuned` (a choice), `no_suggestion` (with `record.reason`), `off`,
    /// `skipped` (too little time left), `failed`.
    pub outcome: &'static str,
    /// The result and its evidence, as stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<TuningRecord>,
    /// The parameters scheduled runs decide with from now on.
    pub parameters: Parameters,
    /// Notifications sent (kinds).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notified: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Engine {
    /// Tune every formation whose `tuning` is not `"off"` on its recorded
    /// history before `now`, one after the other; a formation is not started
    /// with less than [`TUNE_RESERVE`] left before `deadline` (its outcome is
    /// then `skipped`). Never fails as a whole: problems are in the report.
    pub async fn tune(
        &self,
        now: DateTime<Utc>,
        deadline: Option<tokio::time::Instant>,
    ) -> TuneReport {
        let mut formations = Vec::new();
        for f in &self.config.formations {
            let short = deadline.is_some_and(|d| {
                d.saturating_duration_since(tokio::time::Instant::now()) < TUNE_RESERVE
            });
            if short && f.tuning != TuningMode::Off {
                formations.push(FormationTuning {
                    name: f.name.clone(),
                    tuning: f.tuning,
                    outcome: "skipped",
                    record: None,
                    parameters: self.in_force(f).await,
                    notified: Vec::new(),
                    notes: vec![format!(
                        "not tuned: less than {} s left before the invocation's deadline; the stored choice stays",
                        TUNE_RESERVE.as_secs()
                    )],
                    errors: Vec::new(),
                });
                continue;
            }
            formations.push(self.tune_one(f, now).await);
        }
        TuneReport { now, formations }
    }

    async fn tune_one(&self, f: &FormationConfig, now: DateTime<Utc>) -> FormationTuning {
        let mut out = FormationTuning {
            name: f.name.clone(),
            tuning: f.tuning,
            outcome: "off",
            record: None,
            parameters: parameters_in_force(f, None).1,
            notified: Vec::new(),
            notes: Vec::new(),
            errors: Vec::new(),
        };
        if f.tuning == TuningMode::Off {
            out.notes
                .push("tuning = \"off\": not tuned, the config's parameters stay".into());
            return out;
        }
        match self.tune_formation(f, now, &mut out).await {
            Ok(()) => {}
            Err(e) => {
                warn!(formation = %f.name, error = %e, "tune failed");
                out.outcome = "failed";
                out.errors.push(e);
                out.parameters = self.in_force(f).await;
            }
        }
        out
    }

    async fn tune_formation(
        &self,
        f: &FormationConfig,
        now: DateTime<Utc>,
        out: &mut FormationTuning,
    ) -> Result<(), String> {
        let history = self
            .history
            .as_deref()
            .ok_or("no history store: tune reads the formation's recorded minutes")?;
        let key = tuning_key(&f.key());
        let stored = self.store.load(&key).await.map_err(|e| e.to_string())?;
        let (previous, version) = match stored {
            Some(v) => (v.value.tuning, Some(v.version)),
            None => (None, None),
        };
        let capacity = config_capacity(f);
        let mut record = TuningRecord {
            at: now,
            mode: f.tuning,
            from: None,
            to: None,
            minutes_used: 0,
            risk_pct: f.risk_pct,
            capacity: capacity.unwrap_or(0.0),
            boot_minutes: DEFAULT_BOOT_MINUTES,
            chosen: None,
            reason: None,
            current: None,
            frontier: Vec::new(),
            check: previous.as_ref().and_then(|p| p.check.clone()),
        };
        let load_input = f.policy.inputs.first().map(|i| i.name.clone());
        // Minutes strictly before `now`: the tuner never sees its future.
        let minutes_in = |from: DateTime<Utc>, to: DateTime<Utc>| {
            let load_input = load_input.clone();
            async move {
                let records =
                    read_minutes(history, self.store.as_ref(), &f.key(), from, to.min(now))
                        .await
                        .map_err(|e| format!("reading the history: {e}"))?;
                let minutes: Vec<(DateTime<Utc>, Option<f64>)> = records
                    .into_iter()
                    .filter(|r| r.at < now)
                    .map(|r| {
                        let value = load_input
                            .as_ref()
                            .and_then(|n| r.inputs.get(n).copied().flatten());
                        (r.at, value)
                    })
                    .collect();
                Ok::<_, String>(fill_gaps(&minutes))
            }
        };
        match capacity {
            None => {
                record.reason = Some(
                    "tune needs the load one dyno serves: the formation's first input must use the `capacity` rule (its per-dyno setting)".into(),
                );
            }
            Some(capacity) => {
                // The previous choice, judged on the day after its span.
                let judged = previous.as_ref().and_then(|p| Some((p, p.chosen?, p.to?)));
                if let Some((prev, chosen, prev_to)) = judged {
                    let day_from = prev_to + TimeDelta::minutes(1);
                    let day_to = day_from + TimeDelta::days(1);
                    if day_to <= now {
                        let minutes = minutes_in(day_from - CHECK_WARM_UP, day_to).await?;
                        let observed = replay_from(
                            &chosen.candidate.apply(&f.policy, prev.capacity),
                            &minutes,
                            prev.capacity,
                            prev.boot_minutes,
                            Some(day_from),
                        );
                        let worse = if observed.minutes == 0 {
                            None
                        } else {
                            worse_than_predicted(&chosen.score, &observed, CHECK_SLACK_PCT)
                        };
                        record.check = Some(TuningCheck {
                            tuned_at: prev.at,
                            candidate: chosen.candidate,
                            from: day_from,
                            to: day_to,
                            predicted: chosen.score,
                            observed,
                            worse,
                        });
                    } else {
                        out.notes.push(format!(
                            "the previous choice (tuned at {}) is judged once the day after its span is over ({})",
                            stamp(prev.at),
                            stamp(day_to)
                        ));
                    }
                }
                let minutes = minutes_in(now - f.history, now).await?;
                let tuning = tune(
                    &TuneInput {
                        policy: &f.policy,
                        minutes: &minutes,
                        capacity,
                        boot_minutes: DEFAULT_BOOT_MINUTES,
                        risk_pct: f.risk_pct,
                        now,
                    },
                    &default_grid(),
                );
                record.from = tuning.from;
                record.to = tuning.to;
                record.minutes_used = tuning.minutes_used;
                record.chosen = tuning.chosen;
                record.reason = tuning.reason;
                record.current = tuning.current;
                record.frontier = tuning.frontier;
                record.frontier.truncate(MAX_FRONTIER_POINTS);
            }
        }
        let mark = match (record.chosen, record.from, record.to) {
            (Some(chosen), Some(from), Some(to)) => Some(TunedMark {
                at: now,
                from,
                to,
                candidate: chosen.candidate,
                capacity: record.capacity,
            }),
            _ => None,
        };
        // The evidence first, then the choice the scheduled runs read.
        let evidence = FormationState {
            tuning: Some(record.clone()),
            ..FormationState::default()
        };
        self.store
            .save(&key, &evidence, version)
            .await
            .map_err(|e| format!("storing the tuning record: {e}"))?;
        self.store_mark(&f.key(), mark).await?;
        out.parameters = parameters_in_force(f, mark.as_ref()).1;
        out.outcome = if mark.is_some() {
            "tuned"
        } else {
            "no_suggestion"
        };
        if mark.is_none() && f.tuning == TuningMode::Apply {
            out.notes
                .push("no tuned choice: scheduled runs decide with the config's parameters".into());
        }
        info!(formation = %f.name, outcome = out.outcome, "tuned");
        let same = previous
            .as_ref()
            .and_then(|p| p.chosen)
            .zip(record.chosen)
            .is_some_and(|(a, b)| a.candidate == b.candidate);
        let mut sends = Vec::new();
        if let Some(chosen) = record.chosen.filter(|_| !same) {
            sends.push(suggested(f, &record, &chosen));
        } else if record.chosen.is_some() {
            out.notes
                .push("the same choice as the previous run: no notification".into());
        }
        if let Some(check) = record.check.as_ref().filter(|c| {
            previous
                .as_ref()
                .is_some_and(|p| Some(p.at) == Some(c.tuned_at))
        }) {
            if let Some(worse) = &check.worse {
                out.notes.push(worse.clone());
                sends.push(worse_mail(f, check, worse));
            }
        }
        for n in sends {
            match self.notifier.send(&n).await {
                Ok(()) => out.notified.push(n.kind.as_str()),
                Err(e) => out.errors.push(format!("{}: {e}", n.kind.as_str())),
            }
        }
        out.record = Some(record);
        Ok(())
    }

    /// The parameters scheduled runs use now (the stored choice, if any).
    async fn in_force(&self, f: &FormationConfig) -> Parameters {
        let mark = match self.store.load(&f.key()).await {
            Ok(stored) => stored.and_then(|v| v.value.tuned),
            Err(_) => None,
        };
        parameters_in_force(f, mark.as_ref()).1
    }

    /// Set `tuned` in the formation's record, retrying when a scheduled run
    /// wrote it at the same moment.
    async fn store_mark(&self, key: &str, mark: Option<TunedMark>) -> Result<(), String> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let loaded = self.store.load(key).await.map_err(|e| e.to_string())?;
            let (mut state, version) = match loaded {
                Some(v) => (v.value, Some(v.version)),
                None => (FormationState::default(), None),
            };
            if state.tuned == mark {
                return Ok(());
            }
            state.tuned = mark;
            match self.store.save(key, &state, version).await {
                Ok(_) => return Ok(()),
                Err(StoreError::Conflict { .. }) if attempt < ATTEMPTS => continue,
                Err(e) => return Err(format!("storing the tuned choice: {e}")),
            }
        }
    }
}

fn pct(x: f64) -> String {
    format!("{x:.2}%")
}

fn suggested(
    f: &FormationConfig,
    record: &TuningRecord,
    chosen: &crate::store::tuning::Point,
) -> Notification {
    let label = chosen.candidate.label();
    let what = match record.mode {
        TuningMode::Apply => "tuning applies",
        _ => "tuning suggests",
    };
    let current = record.current.map_or("not replayed".to_string(), |c| {
        format!(
            "{:.3} × oracle, {} under-provisioned",
            c.cost_vs_oracle,
            pct(c.under_provisioned_pct)
        )
    });
    let span = match (record.from, record.to) {
        (Some(a), Some(b)) => format!("{} .. {}", stamp(a), stamp(b)),
        _ => "-".into(),
    };
    let next = match record.mode {
        TuningMode::Apply => "Scheduled runs now decide with these parameters (tuning = \"apply\"); min, max, schedules, step limits, cool-offs and the fail-safe stay as configured.".to_string(),
        _ => "Nothing was changed (tuning = \"suggest\"). To adopt it: `dynopilot tune --config <file> --emit tuned.toml`, review the diff, simulate it, commit it; or set tuning = \"apply\".".to_string(),
    };
    Notification {
        kind: NotificationKind::TuningSuggested,
        phase: Phase::Event,
        formation: f.name.clone(),
        subject: format!(
            "[dynopilot] {} {} {what} {label}",
            f.app, f.process_type
        ),
        body: format!(
            "Tuned on the recorded history {span} ({} minutes), risk {}:\n\n  chosen:  {label}: {:.3} × oracle, {} under-provisioned\n  current: the config's rule: {current}\n  frontier: {} points\n\n{next}\n",
            record.minutes_used,
            pct(record.risk_pct),
            chosen.score.cost_vs_oracle,
            pct(chosen.score.under_provisioned_pct),
            record.frontier.len(),
        ),
    }
}

fn worse_mail(f: &FormationConfig, check: &TuningCheck, worse: &str) -> Notification {
    Notification {
        kind: NotificationKind::TuningWorse,
        phase: Phase::Event,
        formation: f.name.clone(),
        subject: format!(
            "[dynopilot] {} {} tuned choice did worse than predicted",
            f.app, f.process_type
        ),
        body: format!(
            "The choice tuned at {} ({}) was replayed on the day after its span, {} .. {}:\n\n{worse}.\n\nThe traffic may have changed; the new tuning run has looked at the newest history. Consider a lower `risk` or tuning = \"suggest\".\n",
            stamp(check.tuned_at),
            check.candidate.label(),
            stamp(check.from),
            stamp(check.to)
        ),
    }
}
