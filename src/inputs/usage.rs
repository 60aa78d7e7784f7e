//! Port `UsageSource`: how much of an add-on's capacity is in use, per
//! dimension (`memory_mb`, `connections`, ...), with the limits the service
//! itself reports when it reports any. An add-on's inputs are either
//! `redis_info` ([`super::RedisInfoSource`]) or any input type of the
//! registry measuring one dimension ([`MetricUsage`]).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{MetricSource, SourceError};

/// One reading of an add-on's use.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Use per dimension, in the dimension's unit.
    pub values: BTreeMap<String, f64>,
    /// Limits the service reported with this reading (a plan's `maxmemory`),
    /// per dimension; only those it reported as non-zero.
    pub limits: BTreeMap<String, f64>,
}

/// Port: an add-on's use.
///
/// Contract: `usage` returns every dimension in [`UsageSource::dimensions`]
/// (finite, not negative) or fails saying why; it does not retry for long.
#[async_trait]
pub trait UsageSource: Send + Sync {
    /// The dimensions it measures.
    fn dimensions(&self) -> Vec<String>;

    /// # Errors
    /// A [`SourceError`] when no trustworthy reading could be taken.
    async fn usage(&self, now: DateTime<Utc>) -> Result<Usage, SourceError>;
}

/// Any registry input measuring one dimension (e.g. `app_metric` reporting a
/// log volume for a log add-on).
pub struct MetricUsage {
    pub source: Arc<dyn MetricSource>,
    pub dimension: String,
}

#[async_trait]
impl UsageSource for MetricUsage {
    fn dimensions(&self) -> Vec<String> {
        vec![self.dimension.clone()]
    }

    async fn usage(&self, now: DateTime<Utc>) -> Result<Usage, SourceError> {
        let value = self.source.fetch(now).await?;
        Ok(Usage {
            values: [(self.dimension.clone(), value)].into_iter().collect(),
            limits: BTreeMap::new(),
        })
    }
}

/// Fake: a reading the test sets (or a failure), returned until changed.
pub struct FixedUsage {
    dimensions: Vec<String>,
    next: Mutex<Result<Usage, SourceError>>,
}

impl FixedUsage {
    pub fn new(dimensions: &[&str], first: Result<Usage, SourceError>) -> Self {
        Self {
            dimensions: dimensions.iter().map(|d| (*d).to_string()).collect(),
            next: Mutex::new(first),
        }
    }

    /// Values without limits, e.g. `&[("memory_mb", 41.0)]`.
    pub fn values(values: &[(&str, f64)]) -> Usage {
        Usage {
            values: values.iter().map(|(k, v)| ((*k).to_string(), *v)).collect(),
            limits: BTreeMap::new(),
        }
    }

    pub fn set(&self, next: Result<Usage, SourceError>) {
        *self.next.lock().unwrap_or_else(|p| p.into_inner()) = next;
    }
}

#[async_trait]
impl UsageSource for FixedUsage {
    fn dimensions(&self) -> Vec<String> {
        self.dimensions.clone()
    }

    async fn usage(&self, _now: DateTime<Utc>) -> Result<Usage, SourceError> {
        self.next.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
