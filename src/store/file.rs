//! `FileStateStore`: all state in one JSON file, for local runs.
//!
//! The file is rewritten whole on each save by writing a temporary file next to
//! it and renaming it over the old one, so a crash mid-write leaves the old
//! state intact. A file that cannot be parsed is never overwritten: the store
//! reports it and the operator decides. The same file keeps the local scaler's
//! dyno counts (see `crate::scaler::LocalScaler`).
//!
//! Every read-check-write holds an exclusive OS lock (`flock`-style, through
//! `std::fs::File::lock`) on a companion file `<path>.lock`, so the version
//! check and the write are one step for every process on the machine, as
//! DynamoDB's conditional write is for every Lambda: of two local runs that
//! claim the same scale, exactly one wins. (The state file itself cannot carry
//! the lock: each save renames a new file over it.) The OS releases the lock
//! when its holder exits, so a crashed run never leaves the file locked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::{FormationState, StateStore, StoreError, Versioned};

/// Longest wait for another run's lock on the state file.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(default)]
    formations: BTreeMap<String, Record>,
    /// Dyno counts per app and process type, for the local scaler.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    dynos: BTreeMap<String, BTreeMap<String, u32>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    version: u64,
    /// The formation's state as stored, decoded by [`super::schema`].
    state: serde_json::Value,
}

/// State in one JSON file, safe for concurrent use by any number of stores and
/// processes on one machine: each read-check-write holds an OS file lock.
#[derive(Debug)]
pub struct FileStateStore {
    path: PathBuf,
    /// Serializes read-modify-write cycles within the process.
    lock: Mutex<()>,
}

impl FileStateStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The companion file whose OS lock guards every read-check-write.
    pub fn lock_path(&self) -> PathBuf {
        let mut path = self.path.clone().into_os_string();
        path.push(".lock");
        PathBuf::from(path)
    }

    /// Take the OS lock (within this process the mutex comes first, so the
    /// lock file is only contended between stores and processes). Waits at
    /// most [`LOCK_WAIT`]: a run that holds it longer is stuck, and this one
    /// then fails with the store unavailable rather than hang.
    async fn os_lock(&self) -> Result<std::fs::File, StoreError> {
        let lock_path = self.lock_path();
        let unavailable = |e: std::io::Error| {
            StoreError::Unavailable(format!("cannot lock {}: {e}", lock_path.display()))
        };
        if let Some(dir) = lock_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(unavailable)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(unavailable)?;
        let started = tokio::time::Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(StoreError::Unavailable(format!(
                        "{} stayed locked by another run for {}s",
                        lock_path.display(),
                        LOCK_WAIT.as_secs()
                    )))
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(unavailable(e)),
            }
        }
    }

    async fn read(&self) -> Result<Document, StoreError> {
        match tokio::fs::read(&self.path).await {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Document::default()),
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                StoreError::Corrupt(format!(
                    "{} is not a dynopilot state file ({e}); it was left untouched",
                    self.path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Document::default()),
            Err(e) => Err(StoreError::Unavailable(format!(
                "cannot read {}: {e}",
                self.path.display()
            ))),
        }
    }

    async fn write(&self, doc: &Document) -> Result<(), StoreError> {
        let unavailable = |e: std::io::Error| {
            StoreError::Unavailable(format!("cannot write {}: {e}", self.path.display()))
        };
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir).await.map_err(unavailable)?;
        }
        let bytes = serde_json::to_vec(doc)
            .map_err(|e| StoreError::Unavailable(format!("cannot encode state: {e}")))?;
        let mut tmp = self.path.clone().into_os_string();
        tmp.push(format!(".tmp.{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        {
            use tokio::io::AsyncWriteExt;
            let mut file = tokio::fs::File::create(&tmp).await.map_err(unavailable)?;
            file.write_all(&bytes).await.map_err(unavailable)?;
            file.sync_all().await.map_err(unavailable)?;
        }
        tokio::fs::rename(&tmp, &self.path)
            .await
            .map_err(unavailable)
    }

    /// The local scaler's dyno counts of one app.
    ///
    /// # Errors
    /// As for [`StateStore::load`].
    pub async fn dynos(&self, app: &str) -> Result<BTreeMap<String, u32>, StoreError> {
        let _guard = self.lock.lock().await;
        let _os_lock = self.os_lock().await?;
        Ok(self.read().await?.dynos.remove(app).unwrap_or_default())
    }

    /// Set some of the local scaler's dyno counts of one app.
    ///
    /// # Errors
    /// As for [`StateStore::save`], without conflicts.
    pub async fn set_dynos(&self, app: &str, counts: &[(String, u32)]) -> Result<(), StoreError> {
        let _guard = self.lock.lock().await;
        let _os_lock = self.os_lock().await?;
        let mut doc = self.read().await?;
        let entry = doc.dynos.entry(app.to_string()).or_default();
        for (process_type, quantity) in counts {
            entry.insert(process_type.clone(), *quantity);
        }
        self.write(&doc).await
    }
}

#[async_trait]
impl StateStore for FileStateStore {
    async fn load(&self, key: &str) -> Result<Option<Versioned<FormationState>>, StoreError> {
        let _guard = self.lock.lock().await;
        let _os_lock = self.os_lock().await?;
        let mut doc = self.read().await?;
        let Some(record) = doc.formations.remove(key) else {
            return Ok(None);
        };
        let value = super::schema::decode(record.state).map_err(|e| {
            StoreError::Corrupt(format!(
                "{} formation {key}: {e}; it was left untouched",
                self.path.display()
            ))
        })?;
        Ok(Some(Versioned {
            value,
            version: record.version,
        }))
    }

    async fn save(
        &self,
        key: &str,
        state: &FormationState,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        let _guard = self.lock.lock().await;
        let _os_lock = self.os_lock().await?;
        let mut doc = self.read().await?;
        let stored = doc.formations.get(key).map(|r| r.version);
        if stored != expected {
            return Err(StoreError::Conflict {
                key: key.to_string(),
                expected,
            });
        }
        let version = stored.unwrap_or(0) + 1;
        doc.formations.insert(
            key.to_string(),
            Record {
                version,
                state: super::schema::encode(state)
                    .map_err(|e| StoreError::Unavailable(format!("cannot encode state: {e}")))?,
            },
        );
        self.write(&doc).await?;
        Ok(version)
    }
}
