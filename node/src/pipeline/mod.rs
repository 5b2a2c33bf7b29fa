//! plan → render → assemble. A job's chunks are planned at keyframes, rendered in parallel (each to
//! its own file, recorded in the store when done), then joined without re-encoding. `job` runs the
//! phases in order; each phase is its own module.

pub mod analyse;
pub mod analysis_pass;
pub mod assembly;
pub mod balance;
pub mod context;
pub mod input_layout;
pub mod job;
pub mod layout;
pub mod model_choice;
pub mod plan;
pub mod planning;
pub mod preflight;
pub mod quality;
pub mod remote;
pub mod remote_job;
pub mod render;
pub mod report;
pub mod resources;
pub mod scene_pass;
pub mod scenes;
pub mod worker;

pub use job::{run_job, JobOptions, JobOutcome};
pub use plan::{plan_chunks, ChunkPlan};
