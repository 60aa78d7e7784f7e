//! `FileHistoryStore`: one JSON file per formation and hour, for local runs.
//!
//! Layout: `<dir>/<app#type>/<YYYY-MM-DDTHH>.json`, where `<dir>` is the state
//! file's path with `.history` appended. Each file is written whole through a
//! temporary file and a rename, like the state file. A put also deletes the
//! formation's files older than `keep` (the local counterpart of DynamoDB's TTL).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use super::{hour_of, hours_between, HistoryStore, HourBlock};
use crate::store::StoreError;

const HOUR_FORMAT: &str = "%Y-%m-%dT%H";

/// Hours of minutes in a directory of JSON files.
#[derive(Debug, Clone)]
pub struct FileHistoryStore {
    dir: PathBuf,
}

impl FileHistoryStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The history beside a state file: `<state>.history`.
    pub fn beside(state_file: &Path) -> Self {
        let mut dir = state_file.as_os_str().to_owned();
        dir.push(".history");
        Self::new(PathBuf::from(dir))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn formation_dir(&self, key: &str) -> PathBuf {
        // Keys are `app#type`: Heroku names hold no path separators.
        self.dir.join(key.replace(['/', '\\'], "_"))
    }

    fn file(&self, key: &str, hour: DateTime<Utc>) -> PathBuf {
        self.formation_dir(key)
            .join(format!("{}.json", hour.format(HOUR_FORMAT)))
    }
}

fn unavailable(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("cannot write {}: {e}", path.display()))
}

#[async_trait]
impl HistoryStore for FileHistoryStore {
    async fn put_hour(
        &self,
        key: &str,
        block: &HourBlock,
        keep: TimeDelta,
    ) -> Result<(), StoreError> {
        let dir = self.formation_dir(key);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| unavailable(&dir, e))?;
        let path = self.file(key, block.hour);
        let bytes = serde_json::to_vec(block)
            .map_err(|e| StoreError::Unavailable(format!("cannot encode history: {e}")))?;
        let mut tmp = path.clone().into_os_string();
        tmp.push(format!(".tmp.{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        tokio::fs::write(&tmp, &bytes)
            .await
            .map_err(|e| unavailable(&tmp, e))?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| unavailable(&path, e))?;
        // Expire: files whose hour ended more than `keep` before this one.
        let oldest = block.hour - keep;
        let mut entries = tokio::fs::read_dir(&dir)
            .await
            .map_err(|e| unavailable(&dir, e))?;
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            let Ok(hour) = NaiveDateTime::parse_from_str(&format!("{stem}:00"), "%Y-%m-%dT%H:%M")
            else {
                continue;
            };
            if hour.and_utc() + TimeDelta::hours(1) < oldest {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
        Ok(())
    }

    async fn get_hours(
        &self,
        key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourBlock>, StoreError> {
        let mut blocks = Vec::new();
        for hour in hours_between(hour_of(from), to) {
            let path = self.file(key, hour);
            match tokio::fs::read(&path).await {
                Ok(bytes) => blocks.push(serde_json::from_slice(&bytes).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "{} is not a dynopilot history hour ({e}); it was left untouched",
                        path.display()
                    ))
                })?),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(StoreError::Unavailable(format!(
                        "cannot read {}: {e}",
                        path.display()
                    )))
                }
            }
        }
        Ok(blocks)
    }
}
