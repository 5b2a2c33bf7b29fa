//! The command line: subcommands, their arguments, and the parsers that turn `kind:key=value,...`
//! into the same serde types the HTTP API takes.

use crate::edit::AutoEditParams;
use clap::{Args, Parser, Subcommand};
use kino_shared::{AudioMode, AudioStageSpec, SceneParams, StageSpec, TargetQuality, VideoCodec};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "kino-node",
    version,
    about = "Kino render node: AI video enhancement with FFmpeg, chunked and resumable"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Print streams, duration, frame rate (or VFR), size, colour/HDR info and keyframe count as JSON.
    Probe { input: PathBuf },
    /// Render a file without a server; run again with the same arguments to resume.
    Render(Box<RenderArgs>),
    /// Run the node: HTTP API, uploads, job queue and workers.
    Serve(ServeArgs),
    /// Render chunks of the farm's jobs (needs --db): no HTTP. SIGTERM or Ctrl-C finishes the
    /// chunks in hand and stops taking work.
    Worker(WorkerArgs),
    /// Detect scenes (cuts, dissolves, fades) and print the scene list; renders nothing.
    Scenes(ScenesArgs),
    /// Auto-edit: find black, frozen and silent stretches and write the cut list for editors
    /// (CMX 3600 EDL, FCPXML, OpenTimelineIO); renders nothing.
    Cutlist(CutlistArgs),
    /// Upscale one picture (PNG, JPEG, a video's first frame) with a neural model into a PNG.
    Upscale(UpscaleArgs),
    /// The picture between two frames (PNG, JPEG, a video's first frame) at a time 0…1, by RIFE,
    /// into a PNG.
    Interpolate(InterpolateArgs),
    /// Detect and track objects (COCO-80) and faces; prints the tracks, writes them as JSON and MOT
    /// CSV; renders nothing.
    Detect(DetectArgs),
    /// PSNR (Y, U, V, weighted), SSIM and SSIMULACRA2 of a video against a reference, frame by
    /// frame aligned by time; a distorted video of another size is resized to the reference's.
    Compare(CompareArgs),
}

#[derive(Args)]
pub struct CompareArgs {
    /// The reference (e.g. the source).
    pub reference: PathBuf,
    /// The video scored against it (e.g. the output).
    pub distorted: PathBuf,
    /// Score every n-th frame at a shared time (1: all).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub every: u64,
    /// Leave out SSIMULACRA2 (the slowest of the three).
    #[arg(long)]
    pub no_ssimulacra2: bool,
    /// Print the whole comparison, with every frame, as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct DetectArgs {
    pub input: PathBuf,
    /// Detection settings as for `--stage detect:…`, e.g. `every=5,classes=person+car,faces=true`.
    #[arg(long, default_value = "", value_parser = parse_settings::<kino_shared::DetectParams>)]
    pub settings: kino_shared::DetectParams,
    /// Write the tracks as JSON here.
    #[arg(long)]
    pub tracks: Option<PathBuf>,
    /// Write the tracks as MOT Challenge CSV here.
    #[arg(long)]
    pub mot: Option<PathBuf>,
    /// Print the tracks as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Chunk length in seconds for the parallel analysis (0: one chunk).
    #[arg(long, default_value_t = 4.0)]
    pub chunk_seconds: f64,
    /// Chunks analysed in parallel (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
}

#[derive(Args)]
pub struct UpscaleArgs {
    pub input: PathBuf,
    #[arg(short, long)]
    pub output: PathBuf,
    /// span (SPAN, for fidelity: camera footage, photos), fast (Real-ESRGAN animevideov3: animation,
    /// the fastest), quality (Real-ESRGAN x4plus) or small (esrgan-slim).
    #[arg(long, default_value = "fast", value_parser = parse_model)]
    pub model: kino_shared::SrModel,
    /// 2 or 4 (quality has ×4 only).
    #[arg(long, default_value_t = 4)]
    pub factor: usize,
    /// Tile side in input pixels (default per model).
    #[arg(long)]
    pub tile: Option<usize>,
    /// Context pixels inferred around each tile and dropped (default per model).
    #[arg(long)]
    pub context: Option<usize>,
    /// One tile for the whole picture (memory grows with the picture).
    #[arg(long)]
    pub untiled: bool,
    /// Inference threads (0 = every core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Run the picture this many times and print ms per run (benchmarks).
    #[arg(long)]
    pub repeat: Option<usize>,
}

#[derive(Args)]
pub struct InterpolateArgs {
    /// The frame before.
    pub first: PathBuf,
    /// The frame after (same size).
    pub second: PathBuf,
    #[arg(short, long)]
    pub output: PathBuf,
    /// Where between them, 0 (the first) … 1 (the second).
    #[arg(long, default_value_t = 0.5)]
    pub time: f32,
    /// Inference threads (0 = every core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Run this many times and print ms per run (benchmarks).
    #[arg(long)]
    pub repeat: Option<usize>,
}

fn parse_model(s: &str) -> Result<kino_shared::SrModel, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("unknown model '{s}' (auto, span, fast, quality, small)"))
}

#[derive(Args)]
pub struct CutlistArgs {
    pub input: PathBuf,
    /// Detection settings, e.g. `silence_threshold_db=-50,silence_min_duration=1,margin=0.2,frozen=true`.
    #[arg(long, default_value = "", value_parser = parse_settings::<AutoEditParams>)]
    pub settings: AutoEditParams,
    /// Write the cut list here; the format follows the extension (.edl, .fcpxml, .otio). Repeatable.
    #[arg(short, long)]
    pub output: Vec<PathBuf>,
    /// Print the cut list (kept and removed frames) as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ScenesArgs {
    pub input: PathBuf,
    /// Detector settings: `min_scene_seconds=0.6,gradual=true`.
    #[arg(long, default_value = "", value_parser = parse_settings::<SceneParams>)]
    pub settings: SceneParams,
    /// Print the scene list as JSON.
    #[arg(long)]
    pub json: bool,
    /// Threads measuring chunks in parallel (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Bearer token required on every route but /api/health (required off loopback).
    #[arg(long, env = "KINO_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Largest upload accepted, in bytes (default 50 GiB).
    #[arg(long, default_value_t = 50 * 1024 * 1024 * 1024)]
    pub max_upload_bytes: u64,
    /// The built web editor to serve at / (default: web/dist when present).
    #[arg(long)]
    pub web_dir: Option<PathBuf>,
    /// In a farm, the URL other nodes reach this one at (default: http:// and the address it
    /// listens on): nodes without its data folder fetch inputs from it and send chunks to it.
    #[arg(long)]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// What every node that renders takes: its store, its folder, its share of the machine.
#[derive(Args)]
pub struct NodeArgs {
    /// The data folder: uploads, chunks, outputs (and the SQLite store without --db). In a farm,
    /// a folder every node sees at the same path.
    #[arg(long, visible_alias = "storage", env = "KINO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A PostgreSQL URL (`postgres://user@host/db`, password from the URL or PGPASSWORD): the
    /// store shared by the nodes of a farm. Without it the node keeps its own SQLite store.
    #[arg(long, env = "KINO_DB", hide_env_values = true)]
    pub db: Option<String>,
    /// This node's name in the farm (default: the host name).
    #[arg(long)]
    pub name: Option<String>,
    /// Jobs rendering at once.
    #[arg(long, default_value_t = 2)]
    pub max_jobs: usize,
    /// Memory budget for all chunk workers, in MiB (shared evenly by the running jobs).
    #[arg(long, default_value_t = 2800)]
    pub max_memory_mb: u64,
    /// Chunk workers shared by all jobs (default: cores / 2, at least 1).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Attempts per chunk before its job fails.
    #[arg(long, default_value_t = 3)]
    pub max_attempts: u32,
    /// How long a chunk stays with a node that stopped renewing its lease (crashed, cut off) before
    /// another node takes it over, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub lease_seconds: f64,
    /// Seconds between readings of the node's resources (CPU, memory, disk, throughput) for the
    /// dashboard and /metrics, kept for a day; 0 turns the readings off.
    #[arg(long, default_value_t = 5.0)]
    pub sample_seconds: f64,
    /// Remove uploads and outputs no job uses once unchanged for this many days (the janitor;
    /// off by default).
    #[arg(long)]
    pub retain_days: Option<f64>,
    /// Remove the oldest uploads and outputs no job uses while together they exceed this many
    /// GB (the janitor; off by default).
    #[arg(long)]
    pub retain_quota_gb: Option<f64>,
    /// Seconds between the janitor's rounds (it also measures the storage the dashboard shows).
    #[arg(long, default_value_t = 60.0)]
    pub janitor_seconds: f64,
}

/// `kino-node worker`: renders chunks of the farm's jobs; no HTTP.
#[derive(Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub node: NodeArgs,
    /// Do not run: ask the running node `--name` to finish its chunks in hand and stop taking
    /// work (a worker then exits; a serving node keeps serving), and return.
    #[arg(long)]
    pub drain: bool,
    /// No shared storage: fetch the inputs of jobs from this serving node (HTTP Range) and send
    /// the rendered chunks to it. Without it, a job whose input this worker's folder lacks is
    /// fetched from a live serving node that has it.
    #[arg(long)]
    pub coordinator: Option<String>,
    /// The serving nodes' bearer token (their --token).
    #[arg(long, env = "KINO_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Args)]
pub struct RenderArgs {
    pub input: PathBuf,
    /// Output file (.mp4, .mov, .mkv or .webm).
    #[arg(short, long)]
    pub output: PathBuf,
    /// h264, h265, av1 or vp9.
    #[arg(long, default_value = "h264", value_parser = parse_codec)]
    pub codec: VideoCodec,
    /// Constant quality (0 = lossless for h264/h265).
    #[arg(long, default_value_t = 20)]
    pub crf: u8,
    /// Search each chunk's CRF for this quality instead of --crf: `ssimulacra2=80` or `psnr=42`
    /// (of the encode against the frames before encoding; the 5th-percentile frame by default).
    #[arg(long, value_parser = parse_target)]
    pub target_quality: Option<TargetQuality>,
    /// Which frames must meet --target-quality: p5 (the 5th-percentile frame) or mean.
    #[arg(long, default_value = "p5", value_parser = ["p5", "mean"])]
    pub target_statistic: String,
    /// CRF range --target-quality searches, MIN-MAX (default 10-45 for h264/h265, 10-60 for AV1/VP9).
    #[arg(long, value_parser = parse_crf_range)]
    pub target_crf: Option<(u8, u8)>,
    /// Encoder preset (ultrafast … placebo).
    #[arg(long, default_value = "medium")]
    pub preset: String,
    /// Audio: auto (copy if the container allows, else re-encode), copy, aac, opus or none.
    #[arg(long, default_value = "auto", value_parser = parse_audio)]
    pub audio: AudioMode,
    /// An enhancement stage, in order: KIND[:key=value,...], e.g. `scale:width=1280` or
    /// `color:saturation=1.2,gamma=1.1`. Repeat for several.
    #[arg(long = "stage", value_parser = parse_stage::<StageSpec>, long_help = STAGE_HELP)]
    pub stages: Vec<StageSpec>,
    /// An audio stage, in order: KIND[:key=value,...], e.g. `loudness:target_lufs=-16,true_peak_db=-1`
    /// (presets: -14 streaming, -16 podcast, -23 EBU R128 broadcast).
    #[arg(long = "audio-stage", value_parser = parse_stage::<AudioStageSpec>, long_help = AUDIO_STAGE_HELP)]
    pub audio_stages: Vec<AudioStageSpec>,
    /// Detect scenes (cuts, dissolves, fades): scene list and thumbnails in the report, chapters in
    /// the output. Optional settings: `min_scene_seconds=0.6,gradual=true,thumbnails=true,chapters=true`.
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_parser = parse_settings::<SceneParams>)]
    pub scenes: Option<SceneParams>,
    /// Auto-edit: cut black, silent (and with `frozen=true`, frozen) stretches out of the output.
    /// Optional settings as for `cutlist --settings`, e.g. `silence_min_duration=1,margin=0.2`.
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_parser = parse_settings::<AutoEditParams>)]
    pub auto_edit: Option<AutoEditParams>,
    /// Keep only this part of the source, START-END (`00:01.5-00:07`, `1:02:03-`, seconds from the
    /// first frame; each time snaps to the nearest frame start, so frame times are frame-exact);
    /// repeat for several parts, in order. With --auto-edit, the output keeps what both keep.
    #[arg(long = "trim", value_name = "START-END")]
    pub trim: Vec<kino_shared::KeepRange>,
    /// With --auto-edit or --trim, also write the cut list for editors here (.edl, .fcpxml or .otio,
    /// by the extension; repeatable). It describes the source, so an editor can refine the cut.
    #[arg(long)]
    pub cut_list: Vec<PathBuf>,
    /// Target chunk length in seconds (chunks start at keyframes); 0 renders in one piece.
    #[arg(long, default_value_t = 4.0)]
    pub chunk_seconds: f64,
    /// Most chunks rendered in parallel (default: one per core; fewer when --max-memory-mb says so).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Memory budget for the chunk workers, in MiB (large frames get fewer workers and a shorter
    /// encoder look-ahead to stay inside it).
    #[arg(long, default_value_t = 1350)]
    pub max_memory_mb: u64,
    /// Where the job store and chunk files live.
    #[arg(long, env = "KINO_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Attempts per chunk before the job fails.
    #[arg(long, default_value_t = 3)]
    pub max_attempts: u32,
    /// Keep chunk files after assembly.
    #[arg(long)]
    pub keep_chunks: bool,
    /// Print progress events as JSON lines on stdout (for scripts), instead of a progress bar.
    #[arg(long)]
    pub events: bool,
    /// Also write what the analysis and audio passes found (scene list, audio sync, …) to this JSON file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Measure the output against the source (PSNR, SSIM, SSIMULACRA2; the report's `quality`
    /// section, sampled to stay near 5 % of the render's time): on or off.
    #[arg(long, default_value = "on", value_parser = ["on", "off"])]
    pub quality: String,
    /// With a detect stage, write the tracks as JSON here.
    #[arg(long)]
    pub tracks: Option<PathBuf>,
    /// With a detect stage, write the tracks as MOT Challenge CSV here.
    #[arg(long)]
    pub mot: Option<PathBuf>,
}

fn parse_codec(s: &str) -> Result<VideoCodec, String> {
    VideoCodec::parse(s).ok_or_else(|| format!("unknown codec '{s}' (h264, h265, av1, vp9)"))
}

fn parse_audio(s: &str) -> Result<AudioMode, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("unknown audio mode '{s}' (auto, copy, aac, opus, none)"))
}

/// `render --help` for `--stage`: every kind and its fields (the README's Usage section and the
/// `StageSpec` schema at /api/docs have the ranges and defaults).
const STAGE_HELP: &str = "An enhancement stage, in order: KIND[:key=value,...]. Repeat for several.
Kinds and their fields:
  scale      width, height (display size) or factor; filter=lanczos3|bicubic; pixels=square|keep;
             model=auto|span|fast|quality|small (neural), blend, tile
  color      brightness, contrast, saturation, gamma, vibrance, temperature, tint,
             auto_white_balance, auto_levels
  denoise    mode=auto|manual, sigma, strength, temporal_radius
  sharpen    amount, radius, threshold
  hdr        mode=to_sdr|to_hdr, peak_nits
  stabilize  mode=smooth|tripod, smoothing_seconds, max_zoom, edge=black|clamp
  detect     every, classes=person+car, faces, min_score, blur=face+person, draw
  deinterlace mode=auto|frame|field|off (interlaced input is deinterlaced by default; field: 50i -> 50p)
  interpolate fps (e.g. 60, 59.94) or factor (2-8); mode=smooth|slowmo; at_cut=repeat|blend;
             audio=drop|stretch (slow motion)
Example: --stage scale:factor=2 --stage denoise:strength=1.5
Ranges and defaults: README (Usage) and the StageSpec schema at /api/docs.";

/// `render --help` for `--audio-stage`.
const AUDIO_STAGE_HELP: &str = "An audio stage, in order: KIND[:key=value,...]. Repeat for several.
Kinds and their fields:
  loudness   target_lufs (-14 streaming, -16 podcast, -23 EBU R128), true_peak_db
  denoise    engine=rnnoise|deepfilternet, mix
  sync       track=FILE, mode=replace|mix, level, max_offset_seconds
Ranges and defaults: README (Usage) and the AudioStageSpec schema at /api/docs.";

/// `kind:key=value,...` → a stage, through the same serde types the API uses.
fn parse_stage<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    let (kind, rest) = s.split_once(':').unwrap_or((s, ""));
    let mut obj = key_values(rest)?;
    obj.insert("kind".into(), kind.trim().into());
    serde_json::from_value(obj.into()).map_err(|e| format!("stage '{s}': {e}"))
}

/// Settings written `key=value,...` (empty for the defaults).
fn parse_settings<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(key_values(s)?.into()).map_err(|e| format!("'{s}': {e}"))
}

/// `key=value,...` as a JSON object; values that parse as JSON (numbers, booleans) keep their type.
fn key_values(s: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut obj = serde_json::Map::new();
    for pair in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| format!("'{pair}' is not key=value"))?;
        let v = v.trim();
        let value = serde_json::from_str::<serde_json::Value>(v).unwrap_or_else(|_| v.into());
        obj.insert(k.trim().into(), value);
    }
    Ok(obj)
}

fn parse_target(s: &str) -> Result<TargetQuality, String> {
    s.parse()
}

fn parse_crf_range(s: &str) -> Result<(u8, u8), String> {
    let (a, b) = s
        .split_once('-')
        .ok_or_else(|| format!("'{s}': expected MIN-MAX, e.g. 18-40"))?;
    let n = |v: &str| {
        v.trim()
            .parse::<u8>()
            .map_err(|_| format!("'{v}' is not a CRF"))
    };
    Ok((n(a)?, n(b)?))
}
