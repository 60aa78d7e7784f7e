//! `DynamoDbStateStore`: one DynamoDB item per formation.
//!
//! Item layout (table key `pk`, String):
//!
//! | attribute    | type | meaning |
//! |--------------|------|---------|
//! | `pk`         | S    | `app#type` |
//! | `version`    | N    | optimistic lock: every write is conditional on the version read |
//! | `state`      | S    | the formation's state as JSON ([`FormationState`]) |
//! | `updated_at` | S    | RFC 3339 time of the write, for people browsing the table |
//! | `expires_at` | N    | TTL, epoch seconds, 30 days after the last write |
//!
//! The state is one JSON string rather than a tree of attributes: it is read
//! and written whole, it stays small (samples pruned to the rules' windows,
//! history and decisions bounded), and one attribute keeps the item size easy
//! to reason about. Reads are strongly consistent, so a write conditional on
//! the version read never races a stale read. TTL only cleans up formations
//! removed from the config: DynamoDB may keep expired items for days, so the
//! window is always pruned by timestamp in code, never by TTL.

use crate::error_text::sdk_message;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::{FormationState, StateStore, StoreError, Versioned};

/// How long an item outlives its last write (TTL).
pub const ITEM_TTL_DAYS: i64 = 30;

/// State in a DynamoDB table whose partition key is `pk` (String).
#[derive(Debug, Clone)]
pub struct DynamoDbStateStore {
    client: Client,
    table: String,
}

impl DynamoDbStateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

/// The item as written for `state` at `version` (also used to report item sizes).
pub fn encode_item(
    key: &str,
    state: &FormationState,
    version: u64,
    written_at: chrono::DateTime<chrono::Utc>,
) -> Result<std::collections::HashMap<String, AttributeValue>, StoreError> {
    let json = super::schema::encode(state)
        .map(|v| v.to_string())
        .map_err(|e| StoreError::Unavailable(format!("cannot encode state: {e}")))?;
    let expires = written_at.timestamp() + ITEM_TTL_DAYS * 86_400;
    Ok([
        ("pk".to_string(), AttributeValue::S(key.to_string())),
        (
            "version".to_string(),
            AttributeValue::N(version.to_string()),
        ),
        ("state".to_string(), AttributeValue::S(json)),
        (
            "updated_at".to_string(),
            AttributeValue::S(written_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        ),
        (
            "expires_at".to_string(),
            AttributeValue::N(expires.to_string()),
        ),
    ]
    .into_iter()
    .collect())
}

/// DynamoDB's item size: the UTF-8 lengths of attribute names and values
/// (numbers counted by their digits, a close upper bound).
pub fn item_size(item: &std::collections::HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    _ => 0,
                }
        })
        .sum()
}

#[async_trait]
impl StateStore for DynamoDbStateStore {
    async fn load(&self, key: &str) -> Result<Option<Versioned<FormationState>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(key.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "GetItem {key} in {}: {}",
                    self.table,
                    sdk_message(&e)
                ))
            })?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let version = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| {
                StoreError::Corrupt(format!("item {key}: attribute version is missing or not a number; it was left untouched"))
            })?;
        let state = match item.get("state").map(|v| v.as_s()) {
            Some(Ok(json)) => serde_json::from_str(json)
                .map_err(|e| e.to_string())
                .and_then(super::schema::decode)
                .map_err(|e| {
                    StoreError::Corrupt(format!(
                        "item {key}: attribute state is not a dynopilot state ({e}); it was left untouched"
                    ))
                })?,
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "item {key}: attribute state is missing or not a string; it was left untouched"
                )))
            }
        };
        Ok(Some(Versioned {
            value: state,
            version,
        }))
    }

    async fn save(
        &self,
        key: &str,
        state: &FormationState,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        let version = expected.unwrap_or(0) + 1;
        let item = encode_item(key, state, version, chrono::Utc::now())?;
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(v) => request
                .condition_expression("#v = :expected")
                .expression_attribute_names("#v", "version")
                .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
        };
        match request.send().await {
            Ok(_) => Ok(version),
            Err(e) => {
                let service = e.as_service_error();
                if service.is_some_and(|s| s.is_conditional_check_failed_exception()) {
                    Err(StoreError::Conflict {
                        key: key.to_string(),
                        expected,
                    })
                } else {
                    Err(StoreError::Unavailable(format!(
                        "PutItem {key} in {}: {}",
                        self.table,
                        sdk_message(&e)
                    )))
                }
            }
        }
    }
}
