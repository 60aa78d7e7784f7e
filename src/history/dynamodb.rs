//! `DynamoDbHistoryStore`: one item per formation and hour, in the state table.
//!
//! | attribute    | type | meaning |
//! |--------------|------|---------|
//! | `pk`         | S    | `app#type#history#YYYY-MM-DDTHH` (a process type holds no `#`, so it never meets a formation's own key) |
//! | `minutes`    | S    | the hour as JSON ([`HourBlock`], columnar) |
//! | `updated_at` | S    | RFC 3339 time of the write |
//! | `expires_at` | N    | TTL, epoch seconds: the hour's end + the formation's `history` |
//!
//! Only `GetItem` and `PutItem`, the two actions the function already holds:
//! a range is read one hour at a time, [`READ_CONCURRENCY`] at once (14 days
//! are 336 reads of ~1.5 KB, 0.5 read units each with eventual consistency).
//! Expired items DynamoDB has not deleted yet are filtered by their hour.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::{hour_of, hours_between, HistoryStore, HourBlock};
use crate::error_text::sdk_message;
use crate::store::StoreError;

/// Hours read at once.
pub const READ_CONCURRENCY: usize = 16;

/// The item key of a formation's hour.
pub fn history_item_key(key: &str, hour: DateTime<Utc>) -> String {
    format!("{key}#history#{}", hour_of(hour).format("%Y-%m-%dT%H"))
}

/// History items in the state table (partition key `pk`, String).
#[derive(Debug, Clone)]
pub struct DynamoDbHistoryStore {
    client: Client,
    table: String,
}

impl DynamoDbHistoryStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl HistoryStore for DynamoDbHistoryStore {
    async fn put_hour(
        &self,
        key: &str,
        block: &HourBlock,
        keep: TimeDelta,
    ) -> Result<(), StoreError> {
        let pk = history_item_key(key, block.hour);
        let json = serde_json::to_string(block)
            .map_err(|e| StoreError::Unavailable(format!("cannot encode history: {e}")))?;
        let expires = (block.hour + TimeDelta::hours(1) + keep).timestamp();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk.clone()))
            .item("minutes", AttributeValue::S(json))
            .item(
                "updated_at",
                AttributeValue::S(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            )
            .item("expires_at", AttributeValue::N(expires.to_string()))
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "PutItem {pk} in {}: {}",
                    self.table,
                    sdk_message(&e)
                ))
            })?;
        Ok(())
    }

    async fn get_hours(
        &self,
        key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourBlock>, StoreError> {
        let reads = hours_between(hour_of(from), to).into_iter().map(|hour| {
            let pk = history_item_key(key, hour);
            async move {
                let out = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", AttributeValue::S(pk.clone()))
                    .send()
                    .await
                    .map_err(|e| {
                        StoreError::Unavailable(format!(
                            "GetItem {pk} in {}: {}",
                            self.table,
                            sdk_message(&e)
                        ))
                    })?;
                let Some(item) = out.item else {
                    return Ok(None);
                };
                let json = item
                    .get("minutes")
                    .and_then(|v| v.as_s().ok())
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!(
                            "item {pk}: attribute minutes is missing or not a string"
                        ))
                    })?;
                let block: HourBlock = serde_json::from_str(json).map_err(|e| {
                    StoreError::Corrupt(format!("item {pk}: not a dynopilot history hour ({e})"))
                })?;
                Ok::<_, StoreError>((block.hour == hour).then_some(block))
            }
        });
        let blocks: Vec<Option<HourBlock>> = stream::iter(reads)
            .buffered(READ_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(blocks.into_iter().flatten().collect())
    }
}
