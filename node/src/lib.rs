//! kino-node: the render node. `media` wraps FFmpeg, `pipeline` plans, renders and assembles chunked
//! jobs, `enhance` holds the video stages and `audio` the audio ones, `store` keeps jobs and chunks in
//! SQL so nothing finished is lost, `service` and `api` make it a server.

pub mod analysis;
pub mod api;
pub mod audio;
pub mod cli;
pub mod detect;
pub mod edit;
pub mod enhance;
pub mod media;
pub mod models;
pub mod pipeline;
pub mod service;
pub mod store;
