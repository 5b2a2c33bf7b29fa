//! Kino's browser editor: open a video and watch it at once, tune per-frame enhancements with a
//! before/after of the current frame computed by the same kernels the node renders with, upload it
//! resumably, and follow every job live.

mod app;
mod batch;
mod compare;
mod cuts;
mod dashboard;
mod events;
mod jobs;
mod media;
mod net;
mod notify;
mod order;
mod presets;
mod preview;
mod probe;
mod quality;
mod settings;
mod store;
mod theme;
mod timeline;
mod timings;
mod tus;
mod viz3d;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
