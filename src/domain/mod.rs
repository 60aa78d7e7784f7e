//! The pure core: policy, stored window, scale history and the decision.
//!
//! Nothing in here performs I/O or reads a clock. `now` is always an argument, so
//! the same code is exercised by table tests, property tests, the Lambda handler,
//! the CLI and (later) the simulator, and any day can be replayed exactly.

mod bound;
mod decide;
mod history;
mod plans;
mod policy;
pub mod rules;
pub mod sizes;
mod window;

pub use bound::{
    first_conflict, hhmm, parse_hhmm, Bound, Resolved, Schedule, ScheduleEntry, ScheduleError,
};
pub use decide::{decide, Action, Decision, InputEstimate, InputStatus, Reason, ReasonCode};
pub use history::{ScaleEvent, ScaleHistory, CLOCK_TOLERANCE, MAX_SCALE_EVENTS};
pub use plans::{
    decide_plan, limit_key, DimensionUse, PlanDecision, PlanPolicy, PlanReason, PlanReasonCode,
    PlanSpec,
};
pub use policy::{InputPolicy, Policy, MAX_RETENTION};
pub use rules::{duration_text, num as number_text};
pub use rules::{
    rule_names, rule_type, AverageRule, CapacityRule, ConsecutiveRule, Per, Rule, RuleInput,
    RuleLogic, RuleType, Setting, TargetRule, TrendRule, DEFAULT_RULE, MAX_RULE_SAMPLES, RULES,
    TREND_MIN_SAMPLES,
};
pub use window::{InputError, InputWindow, Sample, Window};
