//! plan → render → assemble. A job's chunks are planned at keyframes, rendered in parallel (each to
//! its own file, recorded in the store when done), then joined without re-encoding.

pub mod analyse;
pub mod job;
pub mod layout;
pub mod plan;
pub mod render;
pub mod resources;
pub mod scene_pass;
pub mod scenes;

pub use job::{run_job, JobOptions, JobOutcome};
pub use plan::{plan_chunks, ChunkPlan};
