//! Every type that crosses the wire between the editor, the node and the CLI.

pub use crate::frame::Sar;

/// Largest width or height a stage may produce (16K).
pub const MAX_DIMENSION: u32 = 16_384;

mod audio;
mod bundle;
mod detection;
mod edit;
mod errors;
mod interp;
mod media;
mod nodes;
mod presets;
mod quality;
mod resources;
mod scenes;
mod spec;
mod status;
mod target;
mod trim;
mod video;

pub use audio::*;
pub use bundle::*;
pub use detection::*;
pub use edit::*;
pub use errors::*;
pub use interp::*;
pub use media::*;
pub use nodes::*;
pub use presets::*;
pub use quality::*;
pub use resources::*;
pub use scenes::*;
pub use spec::*;
pub use status::*;
pub use target::*;
pub use trim::*;
pub use video::*;

#[cfg(test)]
mod tests;
