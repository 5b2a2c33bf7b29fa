//! Everything that touches FFmpeg (through `ffmpeg-next`): opening inputs safely, probing, the keyframe
//! index, frame conversion, encoding and muxing.

pub mod assemble;
pub mod audio;
pub mod compare;
pub mod convert;
pub mod decode;
pub mod encode;
pub mod encode_loss;
pub mod h264;
pub mod hdr;
pub mod input;
pub mod interlace;
pub mod probe;
pub mod quality;
pub mod sparse;
pub mod spool;
pub mod still;
pub mod target;
pub mod thumbnail;

pub use ffmpeg_next as ffmpeg;

use std::sync::Once;
use thiserror::Error;

/// Errors from media handling; each renders as a one-line reason a user can act on.
#[derive(Debug, Error)]
pub enum MediaError {
    #[error("input not found: {0}")]
    NotFound(String),
    #[error("input is not a regular file: {0}")]
    NotAFile(String),
    #[error("input is empty (0 bytes): {0}")]
    Empty(String),
    #[error("input is a playlist or reference file, which is not allowed: {0}")]
    Playlist(String),
    #[error("not a recognised media file: {path} ({reason})")]
    Unrecognised { path: String, reason: String },
    #[error("no video stream in {0}")]
    NoVideo(String),
    #[error("unsupported video codec: {0} (no decoder in this FFmpeg build)")]
    UnsupportedCodec(String),
    #[error("input is truncated or corrupt: {0}")]
    Truncated(String),
    #[error("decoding failed: {0}")]
    Decode(String),
    /// A local copy of another node's file lacks bytes `start..end` that the decoder reached
    /// (fetched, then the chunk is decoded again).
    #[error("bytes {start}..{end} of the input are not in the local copy yet")]
    Incomplete { start: u64, end: u64 },
    /// Two videos that cannot be compared (no frames at the same times, pictures too small).
    #[error("cannot compare: {0}")]
    Compare(String),
    #[error("encoder unavailable: {0}")]
    EncoderMissing(String),
    #[error("encoding failed: {0}")]
    Encode(String),
    #[error("cannot write output {path}: {reason}")]
    Output { path: String, reason: String },
    #[error("{context}: {source}")]
    Ffmpeg {
        context: String,
        #[source]
        source: ffmpeg::Error,
    },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
    /// A network the analysis needs (detection) could not be loaded or run.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
}

impl MediaError {
    pub fn ff(context: impl Into<String>) -> impl FnOnce(ffmpeg::Error) -> MediaError {
        let context = context.into();
        move |source| MediaError::Ffmpeg { context, source }
    }
    pub fn io(path: impl Into<String>) -> impl FnOnce(std::io::Error) -> MediaError {
        let path = path.into();
        move |source| MediaError::Io { path, source }
    }
}

pub type Result<T, E = MediaError> = std::result::Result<T, E>;

/// Initialises FFmpeg once per process and keeps its log to errors only.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = ffmpeg::init();
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Fatal);
    });
}

/// Creates an output file for `muxer`; also says whether the muxer wants global headers.
pub fn create_output(
    path: &std::path::Path,
    muxer: &str,
) -> Result<(ffmpeg::format::context::Output, bool)> {
    let octx = ffmpeg::format::output_as(path, muxer).map_err(|e| MediaError::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let global_header = octx
        .format()
        .flags()
        .contains(ffmpeg::format::Flags::GLOBAL_HEADER);
    Ok((octx, global_header))
}

/// A time base as the `[num, den]` pair used on the wire.
pub fn rational_pair(r: ffmpeg::Rational) -> [i32; 2] {
    [r.numerator(), r.denominator()]
}

/// Seconds for a timestamp in a time base.
pub fn seconds(ts: i64, tb: ffmpeg::Rational) -> f64 {
    ts as f64 * tb.numerator() as f64 / tb.denominator().max(1) as f64
}

/// Rescales `ts` from one time base to another, rounding to nearest.
pub fn rescale(ts: i64, from: ffmpeg::Rational, to: ffmpeg::Rational) -> i64 {
    use ffmpeg::Rescale;
    ts.rescale(from, to)
}
