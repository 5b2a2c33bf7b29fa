//! A node's resources over time (`GET /api/resources`): what the dashboard charts and the farm's
//! node list shows, sampled every few seconds by one sampler per node.

use serde::{Deserialize, Serialize};

/// One reading of a node's resources.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceSample {
    /// The node's name in a farm (empty for a node on its own store).
    pub node: String,
    /// When, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The machine's CPU use, 0–1, and each core's.
    pub cpu: f64,
    pub cores: Vec<f64>,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    /// The disk holding the data folder.
    pub disk_free_bytes: u64,
    pub disk_total_bytes: u64,
    /// The node's own process: CPU in cores (1.5: one and a half cores busy), resident memory.
    pub process_cpu_cores: f64,
    pub process_memory_bytes: u64,
    /// Chunks waiting to be rendered (all jobs of the store), and rendering on this node.
    pub queue_depth: u64,
    pub running_chunks: u64,
    /// Throughput since the previous reading.
    pub frames_per_second: f64,
    pub chunks_per_minute: f64,
    /// NVIDIA GPUs read through NVML (empty where the node has none or no driver).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<GpuReading>,
}

/// One GPU's use at a reading.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuReading {
    /// The model, e.g. "NVIDIA H200".
    pub name: String,
    /// Share of the last sample period the GPU ran kernels, 0–1.
    pub utilization: f64,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
}

/// Readings of the nodes, oldest first, averaged over `step_ms` when downsampled.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceHistory {
    pub step_ms: i64,
    /// How long readings are kept.
    pub retention_ms: i64,
    pub samples: Vec<ResourceSample>,
}

impl ResourceSample {
    /// Averages each node's readings over buckets of `step_ms` (each bucket's reading stamped at
    /// its last), so a day of 5-s readings charts as a few hundred points. Input oldest first.
    pub fn downsample(samples: &[ResourceSample], step_ms: i64) -> Vec<ResourceSample> {
        if step_ms <= 1 {
            return samples.to_vec();
        }
        let mut out: Vec<ResourceSample> = Vec::new();
        let mut group: Vec<&ResourceSample> = Vec::new();
        let mut nodes: Vec<&str> = samples.iter().map(|s| s.node.as_str()).collect();
        nodes.sort_unstable();
        nodes.dedup();
        for node in nodes {
            let mut bucket = None;
            for s in samples.iter().filter(|s| s.node == node) {
                let b = s.at_ms.div_euclid(step_ms);
                if bucket.is_some_and(|k| k != b) {
                    out.push(mean(&group));
                    group.clear();
                }
                bucket = Some(b);
                group.push(s);
            }
            if !group.is_empty() {
                out.push(mean(&group));
                group.clear();
            }
        }
        out.sort_by_key(|s| s.at_ms);
        out
    }
}

/// The mean of readings of one node (stamped at the last).
fn mean(group: &[&ResourceSample]) -> ResourceSample {
    let n = group.len().max(1) as f64;
    let avg = |f: &dyn Fn(&ResourceSample) -> f64| group.iter().map(|s| f(s)).sum::<f64>() / n;
    let avg_u = |f: &dyn Fn(&ResourceSample) -> u64| avg(&|s| f(s) as f64).round() as u64;
    let cores = group.iter().map(|s| s.cores.len()).max().unwrap_or(0);
    let last = group.last().copied().cloned().unwrap_or_default();
    ResourceSample {
        node: last.node.clone(),
        at_ms: last.at_ms,
        cpu: avg(&|s| s.cpu),
        cores: (0..cores)
            .map(|i| avg(&|s| s.cores.get(i).copied().unwrap_or(0.0)))
            .collect(),
        memory_used_bytes: avg_u(&|s| s.memory_used_bytes),
        memory_total_bytes: last.memory_total_bytes,
        disk_free_bytes: last.disk_free_bytes,
        disk_total_bytes: last.disk_total_bytes,
        process_cpu_cores: avg(&|s| s.process_cpu_cores),
        process_memory_bytes: avg_u(&|s| s.process_memory_bytes),
        queue_depth: avg_u(&|s| s.queue_depth),
        running_chunks: avg_u(&|s| s.running_chunks),
        frames_per_second: avg(&|s| s.frames_per_second),
        chunks_per_minute: avg(&|s| s.chunks_per_minute),
        gpus: (0..group.iter().map(|s| s.gpus.len()).max().unwrap_or(0))
            .map(|i| {
                let gpu = |s: &ResourceSample| s.gpus.get(i).cloned().unwrap_or_default();
                GpuReading {
                    name: gpu(&last).name,
                    utilization: avg(&|s| gpu(s).utilization),
                    memory_used_bytes: avg_u(&|s| gpu(s).memory_used_bytes),
                    memory_total_bytes: gpu(&last).memory_total_bytes,
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsampling_averages_each_nodes_buckets() {
        let at = |node: &str, at_ms, cpu| ResourceSample {
            node: node.into(),
            at_ms,
            cpu,
            cores: vec![cpu, 0.0],
            ..Default::default()
        };
        let raw = [
            at("a", 1_000, 0.2),
            at("b", 1_500, 0.9),
            at("a", 6_000, 0.4),
            at("a", 11_000, 1.0),
        ];
        let out = ResourceSample::downsample(&raw, 10_000);
        let got: Vec<(&str, i64, f64)> = out
            .iter()
            .map(|s| (s.node.as_str(), s.at_ms, (s.cpu * 100.0).round() / 100.0))
            .collect();
        assert_eq!(
            got,
            [("b", 1_500, 0.9), ("a", 6_000, 0.3), ("a", 11_000, 1.0)]
        );
        assert_eq!(out[1].cores.len(), 2);
        assert_eq!(ResourceSample::downsample(&raw, 0).len(), 4);
    }

    #[test]
    fn downsampling_averages_each_gpu_and_keeps_old_readings_readable() {
        let at = |at_ms, utilization, used| ResourceSample {
            at_ms,
            gpus: vec![GpuReading {
                name: "GPU".into(),
                utilization,
                memory_used_bytes: used,
                memory_total_bytes: 100,
            }],
            ..Default::default()
        };
        let out = ResourceSample::downsample(&[at(1_000, 0.2, 10), at(2_000, 0.6, 30)], 10_000);
        assert_eq!(out.len(), 1);
        assert!((out[0].gpus[0].utilization - 0.4).abs() < 1e-9);
        assert_eq!(out[0].gpus[0].memory_used_bytes, 20);
        // Readings stored before GPUs were read have no `gpus`; without a GPU none is written.
        let old: ResourceSample = serde_json::from_str(r#"{"node":"","at_ms":1,"cpu":0.5,"cores":[],"memory_used_bytes":0,"memory_total_bytes":0,"disk_free_bytes":0,"disk_total_bytes":0,"process_cpu_cores":0,"process_memory_bytes":0,"queue_depth":0,"running_chunks":0,"frames_per_second":0,"chunks_per_minute":0}"#).expect("old reading");
        assert!(old.gpus.is_empty());
        assert!(!serde_json::to_string(&old).expect("json").contains("gpus"));
    }
}

/// The data folder's storage and the janitor's work (`GET /api/storage`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageStatus {
    /// When the folder was last measured, milliseconds since the epoch (0: not yet).
    pub measured_ms: i64,
    pub uploads_bytes: u64,
    pub uploads_files: u64,
    pub outputs_bytes: u64,
    pub outputs_files: u64,
    /// The retention policy; absent when the janitor is off (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    /// What the janitor removed since the node started.
    pub freed_bytes: u64,
    pub freed_files: u64,
    /// The latest removals, newest first (at most 50).
    pub removed: Vec<RemovedFile>,
}

/// When the janitor removes uploads and outputs no job is using.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Retention {
    /// Files not changed for this long go.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age_seconds: Option<f64>,
    /// Beyond this many bytes of uploads and outputs, the oldest files go until under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<u64>,
}

/// One file the janitor removed.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RemovedFile {
    /// `upload <id>` or the output's file name.
    pub name: String,
    pub bytes: u64,
    pub at_ms: i64,
    /// `age` or `quota`.
    pub reason: String,
}

/// The job history summed up (`GET /api/analytics`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Analytics {
    /// The window: jobs created from `from_ms` to `to_ms` (milliseconds since the epoch).
    pub from_ms: i64,
    pub to_ms: i64,
    /// Jobs that ended done, over those that ended done or failed (cancelled ones aside); absent
    /// when none ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    /// One row per UTC day with jobs, oldest first.
    pub days: Vec<AnalyticsDay>,
    /// Average speed by stage (and decode, encode, …) and source resolution, over finished jobs.
    pub speeds: Vec<StageSpeed>,
    /// The data folder's uploads and outputs as last measured.
    pub uploads_bytes: u64,
    pub outputs_bytes: u64,
}

/// Jobs created on one UTC day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsDay {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub jobs: u64,
    pub done: u64,
    pub failed: u64,
    pub cancelled: u64,
    /// Minutes of source video the finished jobs rendered.
    pub video_minutes: f64,
    /// Wall-clock minutes of their runs (every phase).
    pub render_minutes: f64,
}

/// How fast one part of the work ran at one source resolution.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageSpeed {
    /// A stage by name (`denoise`, `scale`, …) or `decode`, `convert`, `encode`, `measure`.
    pub stage: String,
    /// `SD` (up to 576 lines), `720p`, `1080p`, `1440p`, `4K`, `8K`.
    pub resolution: String,
    pub jobs: u64,
    /// Seconds of video per worker second: 2.0 runs at twice real time on one worker.
    pub realtime: f64,
    /// Worker seconds spent and seconds of video they covered.
    pub seconds: f64,
    pub video_seconds: f64,
}

/// The resolution class of a source `height` lines tall.
pub fn resolution_class(height: u32) -> &'static str {
    match height {
        0..=576 => "SD",
        577..=720 => "720p",
        721..=1080 => "1080p",
        1081..=1440 => "1440p",
        1441..=2160 => "4K",
        _ => "8K",
    }
}
