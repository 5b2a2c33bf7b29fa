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

/// Where a job's thumbnails of its worst-scored moments live (kept, served with its report).
pub fn quality_dir(data_dir: &Path, job: &str) -> PathBuf {
    data_dir.join("quality").join(job)
}

/// The file of chunk `index` rendered under lease `lease_no`. Each lease writes its own file, so a
/// worker presumed dead that finishes late never overwrites the file the job will use. (Lease 0:
/// the name of chunks rendered before leases were numbered.)
pub fn chunk_path(dir: &Path, index: u32, lease_no: u64) -> PathBuf {
    match lease_no {
        0 => dir.join(format!("chunk-{index:05}.mp4")),
        n => dir.join(format!("chunk-{index:05}-{n}.mp4")),
    }
}
