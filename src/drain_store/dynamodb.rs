//! `DynamoDbDrainStore`: drain aggregates as items of the state table.
//!
//! Items (table key `pk`, String; app names never contain `#`, and a
//! formation's key `app#type` has one `#`, so the keys cannot meet):
//!
//! | `pk` | attributes | meaning |
//! |------|------------|---------|
//! | `drain#<app>#<minute>` | `fr`, `l10`, `expires_at` | frames and L10-dropped messages of the app's minute (epoch seconds of its start) |
//! | `drain#<app>#<minute>#<type>` | `c_<counter>`..., `expires_at` | the process type's counters (names from `crate::drain`) |
//! | `drain#<app>#<minute>#~` | `c_<counter>`..., `expires_at` | router lines that reached no dyno (`~` is no process type) |
//! | `drain-frame#<app>#<frame id>` | `expires_at` | a `Logplex-Frame-Id` stored once |
//!
//! One POST is one `TransactWriteItems`: an `ADD` update per item it touches
//! (no read first: counters add up) and a `Put` of the frame id with
//! `attribute_not_exists(pk)`. A resent frame fails that condition, the whole
//! transaction is cancelled and nothing is counted twice. Every item carries
//! the table's TTL attribute `expires_at` (the minute's retention).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;

use super::{AddOutcome, Counters, DrainStore, DrainStoreError, MinuteCounts, MinuteRead};
use crate::error_text::sdk_message;

/// DynamoDB's limit of actions in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;

/// Prefix of the counter attributes (keeps them apart from `pk`, `expires_at`).
const COUNTER_PREFIX: &str = "c_";

/// Aggregates in the state table.
#[derive(Debug, Clone)]
pub struct DynamoDbDrainStore {
    client: Client,
    table: String,
}

fn minute_key(app: &str, minute: i64) -> String {
    format!("drain#{app}#{minute}")
}

fn type_key(app: &str, minute: i64, process_type: &str) -> String {
    format!("drain#{app}#{minute}#{process_type}")
}

/// The pseudo process type of router lines that reached no dyno.
const UNATTRIBUTED: &str = "~";

fn frame_key(app: &str, frame_id: &str) -> String {
    format!("drain-frame#{app}#{frame_id}")
}

/// An `ADD` of `counters` (attribute -> amount) plus the TTL, as one update.
fn add_update(
    table: &str,
    key: String,
    counters: &[(String, u64)],
    expires_at: i64,
) -> Result<TransactWriteItem, DrainStoreError> {
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut adds = Vec::with_capacity(counters.len());
    for (i, (name, n)) in counters.iter().enumerate() {
        names.insert(format!("#a{i}"), name.clone());
        values.insert(format!(":a{i}"), AttributeValue::N(n.to_string()));
        adds.push(format!("#a{i} :a{i}"));
    }
    names.insert("#ttl".into(), "expires_at".into());
    values.insert(":ttl".into(), AttributeValue::N(expires_at.to_string()));
    let mut expression = "SET #ttl = :ttl".to_string();
    if !adds.is_empty() {
        expression.push_str(" ADD ");
        expression.push_str(&adds.join(", "));
    }
    let update = Update::builder()
        .table_name(table)
        .key("pk", AttributeValue::S(key))
        .update_expression(expression)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(|e| DrainStoreError(format!("cannot build an update: {e}")))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// How many transaction actions a POST's minutes need (without the frame id).
pub fn actions_needed(minutes: &BTreeMap<i64, MinuteCounts>) -> usize {
    minutes.values().map(actions_for).sum()
}

/// Actions one minute needs: its app item, one per type, one for lines with no dyno.
pub fn actions_for(m: &MinuteCounts) -> usize {
    1 + m.types.len() + usize::from(!m.unattributed.is_empty())
}

fn prefixed(counters: &Counters) -> Vec<(String, u64)> {
    counters
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(name, n)| (format!("{COUNTER_PREFIX}{name}"), *n))
        .collect()
}

impl DynamoDbDrainStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The transaction's actions for one POST (public for the item-size checks).
    ///
    /// # Errors
    /// When the request cannot be built.
    pub fn actions(
        &self,
        app: &str,
        frame_id: Option<&str>,
        minutes: &BTreeMap<i64, MinuteCounts>,
        expires_at: i64,
    ) -> Result<Vec<TransactWriteItem>, DrainStoreError> {
        let mut items = Vec::new();
        for (minute, counts) in minutes {
            items.push(add_update(
                &self.table,
                minute_key(app, *minute),
                &[
                    ("fr".to_string(), counts.frames),
                    ("l10".to_string(), counts.l10_dropped),
                ],
                expires_at,
            )?);
            for (process_type, counters) in &counts.types {
                items.push(add_update(
                    &self.table,
                    type_key(app, *minute, process_type),
                    &prefixed(counters),
                    expires_at,
                )?);
            }
            if !counts.unattributed.is_empty() {
                items.push(add_update(
                    &self.table,
                    type_key(app, *minute, UNATTRIBUTED),
                    &prefixed(&counts.unattributed),
                    expires_at,
                )?);
            }
        }
        if let Some(id) = frame_id {
            let put = Put::builder()
                .table_name(&self.table)
                .item("pk", AttributeValue::S(frame_key(app, id)))
                .item("expires_at", AttributeValue::N(expires_at.to_string()))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| DrainStoreError(format!("cannot build the frame id put: {e}")))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        Ok(items)
    }
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0)
}

#[async_trait]
impl DrainStore for DynamoDbDrainStore {
    async fn add(
        &self,
        app: &str,
        frame_id: Option<&str>,
        minutes: &BTreeMap<i64, MinuteCounts>,
        expires_at: i64,
    ) -> Result<AddOutcome, DrainStoreError> {
        let items = self.actions(app, frame_id, minutes, expires_at)?;
        if items.is_empty() {
            return Ok(AddOutcome::Added);
        }
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(DrainStoreError(format!(
                "{} items in one POST, more than a transaction's {MAX_TRANSACTION_ITEMS}",
                items.len()
            )));
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(AddOutcome::Added),
            Err(e) => {
                let message = sdk_message(&e);
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                    e.as_service_error()
                {
                    // The frame id's put is the last action and the only one
                    // with a condition.
                    let duplicate = frame_id.is_some()
                        && cancel
                            .cancellation_reasons()
                            .last()
                            .is_some_and(|r| r.code() == Some("ConditionalCheckFailed"));
                    if duplicate {
                        return Ok(AddOutcome::Duplicate);
                    }
                }
                Err(DrainStoreError(format!(
                    "TransactWriteItems in {}: {message}",
                    self.table
                )))
            }
        }
    }

    async fn read(
        &self,
        app: &str,
        process_type: &str,
        minutes: &[i64],
    ) -> Result<Vec<Option<MinuteRead>>, DrainStoreError> {
        if minutes.is_empty() {
            return Ok(Vec::new());
        }
        let mut keys = Vec::new();
        for m in minutes {
            for key in [
                minute_key(app, *m),
                type_key(app, *m, process_type),
                type_key(app, *m, UNATTRIBUTED),
            ] {
                keys.push(HashMap::from([("pk".to_string(), AttributeValue::S(key))]));
            }
        }
        let request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(|e| DrainStoreError(format!("cannot build the read: {e}")))?;
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.table, request)
            .send()
            .await
            .map_err(|e| {
                DrainStoreError(format!(
                    "BatchGetItem in {}: {}",
                    self.table,
                    sdk_message(&e)
                ))
            })?;
        if out
            .unprocessed_keys()
            .is_some_and(|u| u.values().any(|k| !k.keys().is_empty()))
        {
            return Err(DrainStoreError(format!(
                "BatchGetItem in {}: some keys were not read (throttled)",
                self.table
            )));
        }
        let mut by_key: HashMap<String, HashMap<String, AttributeValue>> = HashMap::new();
        for item in out
            .responses()
            .and_then(|r| r.get(&self.table))
            .into_iter()
            .flatten()
        {
            if let Some(Ok(pk)) = item.get("pk").map(|v| v.as_s()) {
                by_key.insert(pk.clone(), item.clone());
            }
        }
        Ok(minutes
            .iter()
            .map(|m| {
                let app_item = by_key.get(&minute_key(app, *m))?;
                let counters_of = |key: String| -> Counters {
                    by_key
                        .get(&key)
                        .map(|item| {
                            item.iter()
                                .filter_map(|(name, v)| {
                                    let name = name.strip_prefix(COUNTER_PREFIX)?;
                                    let n = v.as_n().ok()?.parse::<u64>().ok()?;
                                    Some((name.to_string(), n))
                                })
                                .collect()
                        })
                        .unwrap_or_default()
                };
                Some(MinuteRead {
                    frames: number(app_item, "fr"),
                    l10_dropped: number(app_item, "l10"),
                    counters: counters_of(type_key(app, *m, process_type)),
                    unattributed: counters_of(type_key(app, *m, UNATTRIBUTED)),
                })
            })
            .collect())
    }
}
