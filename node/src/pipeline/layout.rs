//! Where a job's files live in the data folder.

use std::path::{Path, PathBuf};

/// Where a job's chunk files live.
pub fn chunk_dir(data_dir: &Path, job: &str) -> PathBuf {
    data_dir.join("jobs").join(job)
}

/// Where a job's scene thumbnails live (kept after the job, served with its report).
pub fn scene_dir(data_dir: &Path, job: &str) -> PathBuf {
    data_dir.join("scenes").join(job)
}

pub fn chunk_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("chunk-{index:05}.mp4"))
}
