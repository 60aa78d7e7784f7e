//! A TOML walker that collects every problem with its field path.
//!
//! serde's derive stops at the first error and cannot say "unknown key" and
//! "must be > 0" for ten fields at once. Operators fix configs faster when one
//! `check-config` lists everything, so the config is read by hand through this.
//!
//! A leaf: it imports nothing from the crate, so any folder (config, inputs,
//! rules) can read its own keys with it without importing each other.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::TimeDelta;
use toml::{Table, Value};

/// The longest duration any key accepts: a year. Keys have tighter limits of
/// their own; this one only keeps date arithmetic from overflowing.
pub const MAX_DURATION: TimeDelta = TimeDelta::seconds(366 * 24 * 3600);

/// A duration as a user writes it in the config: `90s`, `5m`, `1h 30m`, `14d`.
pub fn format_duration(d: TimeDelta) -> String {
    let secs = d.num_seconds();
    if secs <= 0 {
        return "0s".to_string();
    }
    let mut out = Vec::new();
    let mut rest = secs;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= size {
            out.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    out.join(" ")
}

/// One documented config key: its name, its default as a user writes it in
/// TOML (`None`: required), and what it means. Config sections, rules and
/// input types list theirs; the docs' reference tables are checked against them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyDoc {
    pub key: &'static str,
    pub default: Option<&'static str>,
    pub meaning: &'static str,
}

impl KeyDoc {
    pub const fn new(
        key: &'static str,
        default: Option<&'static str>,
        meaning: &'static str,
    ) -> Self {
        Self {
            key,
            default,
            meaning,
        }
    }
}

/// One problem in the config, at a field path like `formations[0].inputs[1].per_dyno`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Shared list of errors that every nested [`Fields`] appends to.
pub(crate) type Sink = Rc<RefCell<Vec<FieldError>>>;

/// The keys of one TOML table, taken one by one; whatever is left is unknown.
pub struct Fields {
    path: String,
    table: Table,
    sink: Sink,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

impl Fields {
    pub(crate) fn root(table: Table, sink: Sink) -> Self {
        Self {
            path: String::new(),
            table,
            sink,
        }
    }

    /// This table's own path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The path of a key in this table.
    pub fn path_of(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Record an error at `key` of this table.
    pub fn error(&self, key: &str, message: impl Into<String>) {
        self.sink.borrow_mut().push(FieldError {
            path: self.path_of(key),
            message: message.into(),
        });
    }

    /// Record an error on this table itself.
    pub fn error_here(&self, message: impl Into<String>) {
        let path = if self.path.is_empty() {
            "(top level)".to_string()
        } else {
            self.path.clone()
        };
        self.sink.borrow_mut().push(FieldError {
            path,
            message: message.into(),
        });
    }

    /// Whether the key is present (without taking it).
    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    /// Look at a value without taking it.
    pub fn peek(&self, key: &str) -> Option<&Value> {
        self.table.get(key)
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.table.remove(key)
    }

    /// The keys not taken yet, in order (for tables keyed by data, like schedules).
    pub fn keys(&self) -> Vec<String> {
        self.table.keys().cloned().collect()
    }

    /// Take a key and record `message` at its path: for a key that is known
    /// but wrong here, so it is reported once with a better word than "unknown key".
    pub fn reject(&mut self, key: &str, message: impl Into<String>) {
        if self.take(key).is_some() {
            self.error(key, message);
        }
    }

    fn wrong_type(&self, key: &str, want: &str, got: &Value) {
        self.error(key, format!("must be {want}, found {}", type_name(got)));
    }

    /// An optional string.
    pub fn opt_str(&mut self, key: &str) -> Option<String> {
        match self.take(key)? {
            Value::String(s) => Some(s),
            other => {
                self.wrong_type(key, "a string", &other);
                None
            }
        }
    }

    /// A required non-empty string.
    pub fn req_str(&mut self, key: &str) -> Option<String> {
        let present = self.has(key);
        match self.opt_str(key) {
            Some(s) if s.trim().is_empty() => {
                self.error(key, "must not be empty");
                None
            }
            Some(s) => Some(s),
            None if !present => {
                self.error(key, "is required");
                None
            }
            None => None,
        }
    }

    /// Record "is required" unless the key is present; returns whether it is.
    pub fn require(&self, key: &str, why: &str) -> bool {
        let present = self.has(key);
        if !present {
            self.error(key, format!("is required{why}"));
        }
        present
    }

    /// An optional boolean.
    pub fn opt_bool(&mut self, key: &str) -> Option<bool> {
        match self.take(key)? {
            Value::Boolean(b) => Some(b),
            other => {
                self.wrong_type(key, "true or false", &other);
                None
            }
        }
    }

    /// A boolean with a default.
    pub fn bool_or(&mut self, key: &str, default: bool) -> bool {
        self.opt_bool(key).unwrap_or(default)
    }

    /// An optional whole number `>= 0` that fits a dyno count.
    pub fn opt_count(&mut self, key: &str) -> Option<u32> {
        match self.take(key)? {
            Value::Integer(i) if i < 0 => {
                self.error(key, format!("must be >= 0, found {i}"));
                None
            }
            Value::Integer(i) => match u32::try_from(i) {
                Ok(v) => Some(v),
                Err(_) => {
                    self.error(key, format!("is too large ({i})"));
                    None
                }
            },
            other => {
                self.wrong_type(key, "a whole number", &other);
                None
            }
        }
    }

    /// An optional number `> 0` (integers are accepted as numbers).
    pub fn opt_positive(&mut self, key: &str) -> Option<f64> {
        let v = self.opt_number(key)?;
        if v > 0.0 {
            Some(v)
        } else {
            self.error(key, format!("must be > 0, found {v}"));
            None
        }
    }

    /// An optional finite number, any sign.
    pub fn opt_number(&mut self, key: &str) -> Option<f64> {
        let v = match self.take(key)? {
            Value::Integer(i) => i as f64,
            Value::Float(f) => f,
            other => {
                self.wrong_type(key, "a number", &other);
                return None;
            }
        };
        if v.is_finite() {
            Some(v)
        } else {
            self.error(key, "must be a finite number");
            None
        }
    }

    /// An optional duration: a string such as `"300s"`, `"5m"`, `"1h 30m"`, or a
    /// whole number of seconds. Negative values and values above
    /// [`MAX_DURATION`] are rejected (a larger one would overflow date
    /// arithmetic at run time instead of failing here).
    pub fn opt_duration(&mut self, key: &str) -> Option<TimeDelta> {
        let too_long = |this: &Self, shown: &str| {
            this.error(
                key,
                format!(
                    "{shown} is too long: at most {} for any duration",
                    format_duration(MAX_DURATION)
                ),
            );
        };
        match self.take(key)? {
            Value::Integer(i) if i < 0 => {
                self.error(key, format!("must be >= 0, found {i}"));
                None
            }
            Value::Integer(i) if i > MAX_DURATION.num_seconds() => {
                too_long(self, &format!("{i}s"));
                None
            }
            Value::Integer(i) => Some(TimeDelta::seconds(i)),
            Value::String(s) => match humantime::parse_duration(s.trim()) {
                Ok(d) => match TimeDelta::from_std(d) {
                    Ok(d) if d <= MAX_DURATION => Some(d),
                    _ => {
                        too_long(self, &format!("{s:?}"));
                        None
                    }
                },
                Err(e) => {
                    self.error(
                        key,
                        format!("is not a duration ({e}): write e.g. \"90s\", \"5m\" or \"1h 30m\", found {s:?}"),
                    );
                    None
                }
            },
            other => {
                self.wrong_type(key, "a duration like \"5m\"", &other);
                None
            }
        }
    }

    /// A duration with a default.
    pub fn duration_or(&mut self, key: &str, default: TimeDelta) -> TimeDelta {
        self.opt_duration(key).unwrap_or(default)
    }

    /// A duration with a default and this key's own maximum: larger values are
    /// reported with the maximum and the reason, and the default is used so
    /// that reading goes on.
    pub fn duration_within(
        &mut self,
        key: &str,
        default: TimeDelta,
        max: TimeDelta,
        why: &str,
    ) -> TimeDelta {
        match self.opt_duration(key) {
            Some(d) if d > max => {
                self.error(
                    key,
                    format!(
                        "must be at most {} ({why}), found {}",
                        format_duration(max),
                        format_duration(d)
                    ),
                );
                default
            }
            Some(d) => d,
            None => default,
        }
    }

    /// An optional list of strings.
    pub fn opt_str_list(&mut self, key: &str) -> Option<Vec<String>> {
        match self.take(key)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    match item {
                        Value::String(s) => out.push(s),
                        other => self.error(
                            &format!("{key}[{i}]"),
                            format!("must be a string, found {}", type_name(&other)),
                        ),
                    }
                }
                Some(out)
            }
            other => {
                self.wrong_type(key, "an array of strings", &other);
                None
            }
        }
    }

    /// An optional nested table.
    pub fn opt_table(&mut self, key: &str) -> Option<Fields> {
        match self.take(key)? {
            Value::Table(table) => Some(Fields {
                path: self.path_of(key),
                table,
                sink: self.sink.clone(),
            }),
            other => {
                self.wrong_type(key, "a table", &other);
                None
            }
        }
    }

    /// An array of tables (`[[formations]]`), each with its indexed path.
    pub fn tables(&mut self, key: &str) -> Option<Vec<Fields>> {
        match self.take(key)? {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    let path = format!("{}[{i}]", self.path_of(key));
                    match item {
                        Value::Table(table) => out.push(Fields {
                            path,
                            table,
                            sink: self.sink.clone(),
                        }),
                        other => self.sink.borrow_mut().push(FieldError {
                            path,
                            message: format!("must be a table, found {}", type_name(&other)),
                        }),
                    }
                }
                Some(out)
            }
            other => {
                self.wrong_type(key, "an array of tables", &other);
                None
            }
        }
    }

    /// Report every key that was not taken as unknown. Call once all keys were read.
    pub fn finish(self) {
        for key in self.table.keys() {
            self.sink.borrow_mut().push(FieldError {
                path: join(&self.path, key),
                message: "unknown key".to_string(),
            });
        }
    }
}
