//! kino-node: the render node. `media` wraps FFmpeg, `pipeline` plans, renders and assembles chunked
//! jobs, `stages` are the enhancements, `store` keeps jobs and chunks in SQL so nothing finished is lost.

pub mod api;
pub mod audio;
pub mod media;
pub mod pipeline;
pub mod service;
pub mod stages;
pub mod store;
