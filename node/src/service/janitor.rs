//! The janitor: measures the data folder's uploads and outputs, and (when a retention is set; off
//! by default) removes those older than the limit, or the oldest while over the quota, never a
//! file an unfinished job reads or writes.

use super::Service;
use crate::store::Store;
use kino_shared::{RemovedFile, Retention, StorageStatus};
use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Removals kept for the dashboard.
const KEPT: usize = 50;

/// The janitor's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct JanitorConfig {
    /// Removes what no job uses, by age or quota; `None`: only measure.
    pub retention: Option<Retention>,
    /// Between rounds.
    pub every: Duration,
}

impl Default for JanitorConfig {
    fn default() -> Self {
        JanitorConfig {
            retention: None,
            every: Duration::from_secs(60),
        }
    }
}

/// One upload or output in the data folder.
#[derive(Debug, Clone)]
struct Entry {
    path: PathBuf,
    /// The upload's id, for its row in the store.
    upload: Option<String>,
    bytes: u64,
    modified: SystemTime,
}

impl Entry {
    fn name(&self) -> String {
        match &self.upload {
            Some(id) => format!("upload {id}"),
            None => self
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        }
    }
}

fn bytes_of(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .map(|rd| rd.flatten().map(|e| bytes_of(&e.path())).sum())
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

/// The uploads (with their tus sidecars) and outputs (an imported job's folder counts as one).
fn entries(data: &Path) -> (Vec<Entry>, Vec<Entry>) {
    let list = |dir: &str, upload: bool| -> Vec<Entry> {
        let Ok(rd) = std::fs::read_dir(data.join(dir)) else {
            return vec![];
        };
        rd.flatten()
            .filter_map(|e| {
                let path = e.path();
                let name = e.file_name().to_string_lossy().into_owned();
                // Files being written (assembly's `.NAME.kino-tmp`, an import's `.part`) are left.
                if name.starts_with('.') || name.ends_with(".part") {
                    return None;
                }
                let modified = e.metadata().and_then(|m| m.modified()).ok()?;
                Some(Entry {
                    bytes: bytes_of(&path),
                    upload: upload.then_some(name),
                    path,
                    modified,
                })
            })
            .collect()
    };
    (list("uploads", true), list("outputs", false))
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_owned())
}

/// What to remove: entries no job uses, past the age limit, then the oldest while over quota.
fn chosen(
    mut all: Vec<Entry>,
    used: &HashSet<PathBuf>,
    r: &Retention,
    now: SystemTime,
) -> Vec<(Entry, &'static str)> {
    all.sort_by_key(|e| e.modified);
    let in_use = |e: &Entry| {
        let c = canonical(&e.path);
        used.iter().any(|u| u == &c || u.starts_with(&c))
    };
    let mut total: u64 = all.iter().map(|e| e.bytes).sum();
    let mut out = Vec::new();
    for e in all {
        if in_use(&e) {
            continue;
        }
        let age = now.duration_since(e.modified).unwrap_or_default();
        let reason = if r.max_age_seconds.is_some_and(|max| age.as_secs_f64() > max) {
            "age"
        } else if r.quota_bytes.is_some_and(|q| total > q) {
            "quota"
        } else {
            continue;
        };
        total = total.saturating_sub(e.bytes);
        out.push((e, reason));
    }
    out
}

/// Removes an entry (an upload with its row in the store).
async fn remove(store: &Store, e: &Entry) -> std::io::Result<()> {
    if e.path.is_dir() {
        std::fs::remove_dir_all(&e.path)?;
    } else {
        std::fs::remove_file(&e.path)?;
    }
    if let Some(id) = &e.upload {
        if let Err(err) = store.delete_upload(id).await {
            tracing::warn!("janitor: upload {id}'s row: {err}");
        }
    }
    Ok(())
}

impl Service {
    /// One round: measure, and remove what the retention allows.
    pub async fn janitor_round(&self) {
        let data = self.config.data_dir.clone();
        let (uploads, outputs) = match tokio::task::spawn_blocking(move || entries(&data)).await {
            Ok(found) => found,
            Err(_) => return,
        };
        let retention = self.config.janitor.retention.clone();
        let mut removed = Vec::new();
        if let Some(r) = &retention {
            let used = match self.store.files_in_use().await {
                Ok(u) => u.iter().map(|p| canonical(Path::new(p))).collect(),
                Err(e) => {
                    tracing::warn!("janitor: which files are in use is unknown: {e}");
                    return;
                }
            };
            let all = uploads.iter().chain(&outputs).cloned().collect();
            for (e, reason) in chosen(all, &used, r, SystemTime::now()) {
                match remove(&self.store, &e).await {
                    Ok(()) => {
                        tracing::info!(
                            "janitor removed {} ({} bytes, {reason})",
                            e.name(),
                            e.bytes
                        );
                        removed.push(RemovedFile {
                            name: e.name(),
                            bytes: e.bytes,
                            at_ms: crate::store::now_ms(),
                            reason: reason.into(),
                        });
                    }
                    Err(err) => tracing::warn!("janitor: {}: {err}", e.name()),
                }
            }
        }
        let gone: HashSet<&str> = removed.iter().map(|r| r.name.as_str()).collect();
        let sum = |list: &[Entry]| {
            let kept: Vec<_> = list
                .iter()
                .filter(|e| !gone.contains(e.name().as_str()))
                .collect();
            (kept.iter().map(|e| e.bytes).sum::<u64>(), kept.len() as u64)
        };
        let ((ub, uf), (ob, of)) = (sum(&uploads), sum(&outputs));
        self.metrics.observe_storage(ub, ob, &removed);
        let mut s = self.storage.lock().unwrap_or_else(|p| p.into_inner());
        s.measured_ms = crate::store::now_ms();
        (s.uploads_bytes, s.uploads_files) = (ub, uf);
        (s.outputs_bytes, s.outputs_files) = (ob, of);
        s.retention = retention;
        for r in removed {
            s.freed_bytes += r.bytes;
            s.freed_files += 1;
            s.removed.push_front(r);
        }
        s.removed.truncate(KEPT);
    }

    /// Runs a round now and then every `every`.
    pub(super) fn spawn_janitor(self: Arc<Self>) {
        tokio::spawn(async move {
            loop {
                self.janitor_round().await;
                tokio::time::sleep(self.config.janitor.every).await;
            }
        });
    }

    /// The latest measure and the janitor's record.
    pub fn storage(&self) -> StorageStatus {
        let s = self.storage.lock().unwrap_or_else(|p| p.into_inner());
        StorageStatus {
            measured_ms: s.measured_ms,
            uploads_bytes: s.uploads_bytes,
            uploads_files: s.uploads_files,
            outputs_bytes: s.outputs_bytes,
            outputs_files: s.outputs_files,
            retention: s.retention.clone(),
            freed_bytes: s.freed_bytes,
            freed_files: s.freed_files,
            removed: s.removed.iter().cloned().collect(),
        }
    }
}

/// The janitor's record as kept between rounds.
#[derive(Debug, Default)]
pub struct StorageRecord {
    measured_ms: i64,
    uploads_bytes: u64,
    uploads_files: u64,
    outputs_bytes: u64,
    outputs_files: u64,
    retention: Option<Retention>,
    freed_bytes: u64,
    freed_files: u64,
    removed: VecDeque<RemovedFile>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, bytes: u64, days_old: u64) -> Entry {
        Entry {
            path: PathBuf::from(format!("/nowhere/outputs/{name}")),
            upload: None,
            bytes,
            modified: SystemTime::UNIX_EPOCH
                + Duration::from_secs(100 * 86_400 - days_old * 86_400),
        }
    }

    #[test]
    fn old_files_go_unless_used_and_the_oldest_go_over_quota() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(100 * 86_400);
        let all = vec![
            entry("a", 10, 5),
            entry("b", 10, 3),
            entry("c", 10, 1),
            entry("d", 10, 0),
        ];
        let used: HashSet<PathBuf> = [PathBuf::from("/nowhere/outputs/a")].into();
        let by_age = Retention {
            max_age_seconds: Some(2.0 * 86_400.0),
            quota_bytes: None,
        };
        let names = |v: Vec<(Entry, &str)>| {
            v.iter()
                .map(|(e, r)| format!("{}:{r}", e.name()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(chosen(all.clone(), &used, &by_age, now)), ["b:age"]);
        let by_quota = Retention {
            max_age_seconds: None,
            quota_bytes: Some(15),
        };
        // 40 bytes, a in use: b then c go (oldest first) to reach 20, then d brings it to 10.
        assert_eq!(
            names(chosen(all, &used, &by_quota, now)),
            ["b:quota", "c:quota", "d:quota"]
        );
    }
}
