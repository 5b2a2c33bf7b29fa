//! kino-shared: the language the browser editor and the render node speak (`api`), the frame type both
//! sides hold (`frame`), and the pixel kernels both sides run (`kernels`), so that a preview in the
//! browser is computed by exactly the code that renders on the node.
//!
//! No I/O and no threads are required: it builds for `wasm32-unknown-unknown`. The `parallel` feature
//! adds rayon for native builds.

pub mod api;
pub mod frame;
pub mod kernels;
pub mod preview;

pub use api::*;
pub use frame::{ChromaLayout, ColourInfo, Frame, Plane, Samples, Sar};
