//! `FileDrainStore`: drain aggregates in one JSON file, for local runs.
//!
//! The file sits beside the state file (`state.json` -> `state.drain.json`).
//! Each add rewrites it whole through a temporary file renamed over it (a
//! crash leaves the old file), under the same kind of OS lock the state file
//! uses (`<path>.lock`), and drops what has expired. A file that cannot be
//! parsed is never overwritten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{AddOutcome, DrainStore, DrainStoreError, MinuteCounts, MinuteRead};

/// Longest wait for another process's lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    /// app -> minute (epoch seconds, as text: JSON keys) -> stored minute.
    #[serde(default)]
    minutes: BTreeMap<String, BTreeMap<String, StoredMinute>>,
    /// app -> frame id -> expires at.
    #[serde(default)]
    frames: BTreeMap<String, BTreeMap<String, i64>>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredMinute {
    expires_at: i64,
    #[serde(flatten)]
    counts: MinuteCounts,
}

/// Drain aggregates in a JSON file.
#[derive(Debug)]
pub struct FileDrainStore {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileDrainStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// The drain file beside a state file: `dir/state.json` -> `dir/state.drain.json`.
    pub fn beside(state_path: &Path) -> Self {
        let stem = state_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "state".into());
        Self::new(state_path.with_file_name(format!("{stem}.drain.json")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn os_lock(&self) -> Result<std::fs::File, DrainStoreError> {
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let fail = |e: std::io::Error| {
            DrainStoreError(format!("cannot lock {}: {e}", lock_path.display()))
        };
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(fail)?;
        let started = std::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(DrainStoreError(format!(
                        "{} stayed locked for {}s",
                        lock_path.display(),
                        LOCK_WAIT.as_secs()
                    )))
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(fail(e)),
            }
        }
    }

    fn read_doc(&self) -> Result<Document, DrainStoreError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                DrainStoreError(format!(
                    "{} is not a drain aggregates file ({e}); it is left as it is",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Document::default()),
            Err(e) => Err(DrainStoreError(format!(
                "cannot read {}: {e}",
                self.path.display()
            ))),
        }
    }

    fn write_doc(&self, doc: &Document) -> Result<(), DrainStoreError> {
        let fail = |e: std::io::Error| {
            DrainStoreError(format!("cannot write {}: {e}", self.path.display()))
        };
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let text = serde_json::to_string(doc)
            .map_err(|e| DrainStoreError(format!("cannot encode the aggregates: {e}")))?;
        std::fs::write(&tmp, text).map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)
    }
}

#[async_trait]
impl DrainStore for FileDrainStore {
    async fn add(
        &self,
        app: &str,
        frame_id: Option<&str>,
        minutes: &BTreeMap<i64, MinuteCounts>,
        expires_at: i64,
    ) -> Result<AddOutcome, DrainStoreError> {
        let _guard = self.lock.lock().await;
        let _os = self.os_lock().await?;
        let mut doc = self.read_doc()?;
        // Expired entries go, as DynamoDB's TTL would remove them; "now" is
        // the newest minute written minus nothing: entries whose expiry is
        // before the oldest minute written here cannot be read any more.
        let horizon = minutes.keys().next().copied().unwrap_or(i64::MIN);
        for per_app in doc.minutes.values_mut() {
            per_app.retain(|_, m| m.expires_at > horizon);
        }
        for per_app in doc.frames.values_mut() {
            per_app.retain(|_, e| *e > horizon);
        }
        if let Some(id) = frame_id {
            let seen = doc.frames.entry(app.to_string()).or_default();
            if seen.contains_key(id) {
                return Ok(AddOutcome::Duplicate);
            }
            seen.insert(id.to_string(), expires_at);
        }
        let per_app = doc.minutes.entry(app.to_string()).or_default();
        for (minute, counts) in minutes {
            let stored = per_app.entry(minute.to_string()).or_default();
            stored.counts.merge(counts);
            stored.expires_at = stored.expires_at.max(expires_at);
        }
        self.write_doc(&doc)?;
        Ok(AddOutcome::Added)
    }

    async fn read(
        &self,
        app: &str,
        process_type: &str,
        minutes: &[i64],
    ) -> Result<Vec<Option<MinuteRead>>, DrainStoreError> {
        let _guard = self.lock.lock().await;
        let _os = self.os_lock().await?;
        let doc = self.read_doc()?;
        let per_app = doc.minutes.get(app);
        Ok(minutes
            .iter()
            .map(|m| {
                per_app
                    .and_then(|p| p.get(&m.to_string()))
                    .map(|s| MinuteRead {
                        frames: s.counts.frames,
                        l10_dropped: s.counts.l10_dropped,
                        counters: s
                            .counts
                            .types
                            .get(process_type)
                            .cloned()
                            .unwrap_or_default(),
                        unattributed: s.counts.unattributed.clone(),
                    })
            })
            .collect())
    }
}
