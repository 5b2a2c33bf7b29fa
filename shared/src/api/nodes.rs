//! The render nodes sharing one store (a farm), as `GET /api/nodes` lists them.

use serde::{Deserialize, Serialize};

/// One node of the farm.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub name: String,
    pub version: String,
    pub host: String,
    pub cores: u32,
    pub memory_bytes: Option<u64>,
    /// Video encoders this node's FFmpeg has (`h264`, `h265`, `av1`, `vp9`).
    pub encoders: Vec<String>,
    /// Model files present (`*.onnx`).
    pub models: Vec<String>,
    /// GPUs the node sees (NVIDIA by model name; other vendors' render devices by vendor).
    #[serde(default)]
    pub gpus: Vec<String>,
    /// Milliseconds since its last heartbeat (database clock).
    pub silent_ms: i64,
    /// Heard from within three leases.
    pub alive: bool,
    /// Finishing its chunks in hand and taking no more.
    pub draining: bool,
    /// Chunks it renders now.
    pub running_chunks: u64,
    /// Which: job id and chunk index of each.
    #[serde(default)]
    pub current: Vec<NodeChunk>,
    /// Chunks it has rendered (of the jobs still in the store).
    pub chunks_done: u64,
    /// Its latest resource reading (within the last minute), from the same sampler as the
    /// dashboard's charts.
    #[serde(default)]
    pub resources: Option<crate::ResourceSample>,
}

/// A chunk a node is rendering.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeChunk {
    pub job: String,
    pub chunk: u32,
}
