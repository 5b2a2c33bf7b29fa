//! Quality figures of one video against another (`kino-node compare`, and a job's report): PSNR
//! and SSIM as FFmpeg's filters compute them, and SSIMULACRA2.

use serde::{Deserialize, Serialize};

/// One compared frame. PSNR is absent where the frames are identical (infinite).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FrameQuality {
    /// Presentation time of the distorted frame, seconds.
    pub time: f64,
    /// PSNR of Y, U and V weighted by their sample counts (FFmpeg's "average"), dB.
    pub psnr: Option<f64>,
    pub psnr_y: Option<f64>,
    /// SSIM of all planes weighted by their sample counts (FFmpeg's "All").
    pub ssim: Option<f64>,
    pub ssimulacra2: Option<f64>,
}

/// Figures over the compared frames, summed as FFmpeg sums them: PSNR from the mean squared error,
/// SSIM the mean of the frames'; SSIMULACRA2 as its mean, 5th percentile and minimum.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QualitySummary {
    pub frames: u64,
    pub psnr: Option<f64>,
    pub psnr_y: Option<f64>,
    pub psnr_u: Option<f64>,
    pub psnr_v: Option<f64>,
    pub ssim: Option<f64>,
    pub ssim_y: Option<f64>,
    pub ssimulacra2_mean: Option<f64>,
    pub ssimulacra2_p5: Option<f64>,
    pub ssimulacra2_min: Option<f64>,
}

/// A comparison of two videos: what was compared with what, the summary and the frames.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// In words: e.g. "output resized from 1280×720 to the source's 640×360 (Lanczos)".
    pub compared: String,
    /// Frames of the distorted video left out: no reference frame at their time.
    pub unmatched: u64,
    /// Every n-th matched frame was scored.
    pub every: u64,
    /// SSIMULACRA2 was computed on every n-th scored frame (0: on none).
    pub ssimulacra2_every: u64,
    pub summary: QualitySummary,
    pub frames: Vec<FrameQuality>,
}

/// Figures over a stretch of the video (a chunk or a scene), by the output's time in seconds.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SpanQuality {
    pub start: f64,
    pub end: f64,
    pub summary: QualitySummary,
}

/// The job report's `quality` section: the output measured against the source.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// What was compared with what, in words (or why nothing was).
    pub compared: String,
    /// Whether figures were measured (not for outputs that do not correspond to the source
    /// frame by frame, such as a cut timeline or a tone-mapped HDR source).
    pub measured: bool,
    /// Every n-th frame at a shared time was scored.
    pub every: u64,
    /// SSIMULACRA2 was computed on every n-th scored frame (0: on none, over the time budget).
    pub ssimulacra2_every: u64,
    /// Seconds spent measuring, and that as a share of the render's time.
    pub seconds: f64,
    pub share_of_render: f64,
    pub summary: QualitySummary,
    pub chunks: Vec<SpanQuality>,
    pub scenes: Vec<SpanQuality>,
    /// The scored frames (the per-frame curve), by output time.
    pub frames: Vec<FrameQuality>,
    /// The worst scored moments (lowest SSIMULACRA2, else PSNR), worst first.
    pub worst: Vec<WorstMoment>,
    /// The encoder's own loss: the encoded frames against the frames handed to the encoder
    /// (absent when nothing was sampled, e.g. a job rendered before this existed).
    #[serde(default)]
    pub encoder: Option<EncoderLoss>,
    /// The output's sound, one entry per audio stream (measured whatever the pictures are).
    #[serde(default)]
    pub audio: Vec<AudioQuality>,
}

/// One of the worst moments, with a thumbnail of the output there.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorstMoment {
    #[serde(flatten)]
    pub frame: FrameQuality,
    /// `GET /api/jobs/{id}/quality/{thumbnail}` (JPEG), when it could be written.
    #[serde(default)]
    pub thumbnail: Option<String>,
}

/// What the encoder alone lost: sampled frames of each chunk's encode scored against the frames
/// the stages handed to it (so a low figure of the whole comparison can be told apart: the
/// enhancement changed the picture, or the encoder's settings lost it).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EncoderLoss {
    /// In words: what was compared and how it was sampled.
    pub compared: String,
    pub summary: QualitySummary,
    /// Per chunk, from its first to its last sampled frame.
    pub chunks: Vec<SpanQuality>,
    pub frames: Vec<FrameQuality>,
    /// Seconds the chunks' workers spent sampling and measuring, all chunks together.
    #[serde(default)]
    pub seconds: f64,
}

/// What a chunk's render measured of its own encode, kept beside the chunk file (and sent with it
/// to the node that assembles, in a farm).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChunkMeasures {
    pub index: u32,
    /// The target-quality search's outcome, when the job has a target.
    #[serde(default)]
    pub target: Option<crate::TargetChunk>,
    /// Sampled encoded frames against the frames before encoding, on the output's clock.
    #[serde(default)]
    pub encoder: Vec<FrameQuality>,
    /// Seconds spent sampling and measuring `encoder`.
    #[serde(default)]
    pub encoder_seconds: f64,
    /// Where the chunk's render spent its time: `decode`, `convert`, each stage by name, `encode`
    /// (the CRF search included), `measure`.
    #[serde(default)]
    pub timings: Vec<PartTime>,
}

/// Seconds spent in one part of the work.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartTime {
    pub part: String,
    pub seconds: f64,
}

/// The report's `timings` section: where a job's time went.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobTimings {
    /// Wall-clock seconds of the job's phases in the run that finished it (`prepare`: probe and
    /// planning, `analysis`, `render`, `assembly` with the quality report). A resumed job counts
    /// only that run; in a farm, the run of the node that assembled.
    pub phases: Vec<PartTime>,
    /// Worker seconds of all chunks by part (`decode`, `convert`, each stage, `encode`,
    /// `measure`), summed over the chunks: chunks render in parallel, so the sum exceeds the
    /// render's wall-clock time.
    pub chunk_parts: Vec<PartTime>,
    /// Chunks whose timings were known (all but those rendered before timings were kept).
    pub chunks: u64,
    /// The source video's duration and height, for speeds by resolution (0 when unknown).
    #[serde(default)]
    pub video_seconds: f64,
    #[serde(default)]
    pub height: u32,
}

/// One audio stream of the output as a loudness meter reads it (EBU R128, BS.1770-4).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AudioQuality {
    /// Index of the stream in the output file.
    pub stream: u32,
    pub sample_rate: u32,
    pub channels: u32,
    /// Integrated loudness, LUFS; absent for silence (below the absolute gate).
    pub integrated_lufs: Option<f64>,
    /// Loudness range, LU.
    pub loudness_range_lu: f64,
    /// Highest true peak over the channels, dBTP, oversampled to at least 192 kHz (as FFmpeg's
    /// `ebur128=peak=true` does, whatever the sample rate).
    pub true_peak_db: f64,
}
