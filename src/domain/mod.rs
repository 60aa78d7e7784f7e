//! The pure core: policy, stored window, scale history and the decision.
//!
//! Nothing in here performs I/O or reads a clock. `now` is always an argument, so
//! the same code is exercised by table tests, property tests, the Lambda handler,
//! the CLI and (later) the simulator, and any day can be replayed exactly.

mod decide;
mod history;
mod policy;
mod window;

pub use decide::{decide, Action, Decision, InputEstimate, InputStatus, Reason, ReasonCode};
pub use history::{ScaleEvent, ScaleHistory, MAX_SCALE_EVENTS};
pub use policy::{InputPolicy, Policy, Rule};
pub use window::{InputError, InputWindow, Sample, Window};
