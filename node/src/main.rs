//! The `kino-node` binary: `probe` and `render` (no server) today; one process, one store.

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kino_node::edit::{AutoEditParams, ExportFormat, ExportOptions};
use kino_node::media::{probe, MediaError};
use kino_node::pipeline::job::{self, JobError};
use kino_node::pipeline::{run_job, JobOptions, JobOutcome};
use kino_node::service;
use kino_node::store::Store;
use kino_shared::{
    AudioMode, AudioStageSpec, Container, JobSpec, OutputSpec, ProgressEvent, SceneParams,
    StageSpec, VideoCodec,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "kino-node",
    version,
    about = "Kino render node: AI video enhancement with FFmpeg, chunked and resumable"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print streams, duration, frame rate (or VFR), size, colour/HDR info and keyframe count as JSON.
    Probe { input: PathBuf },
    /// Render a file without a server; run again with the same arguments to resume.
    Render(RenderArgs),
    /// Run the node: HTTP API, uploads, job queue and workers.
    Serve(ServeArgs),
    /// Detect scenes (cuts, dissolves, fades) and print the scene list; renders nothing.
    Scenes(ScenesArgs),
    /// Auto-edit: find black, frozen and silent stretches and write the cut list for editors
    /// (CMX 3600 EDL, FCPXML, OpenTimelineIO); renders nothing.
    Cutlist(CutlistArgs),
    /// Upscale one picture (PNG, JPEG, a video's first frame) with a neural model into a PNG.
    Upscale(UpscaleArgs),
    /// Detect and track objects (COCO-80) and faces; prints the tracks, writes them as JSON and MOT
    /// CSV; renders nothing.
    Detect(DetectArgs),
}

#[derive(Args)]
struct DetectArgs {
    input: PathBuf,
    /// Detection settings as for `--stage detect:…`, e.g. `every=5,classes=person+car,faces=true`.
    #[arg(long, default_value = "", value_parser = parse_settings::<kino_shared::DetectParams>)]
    settings: kino_shared::DetectParams,
    /// Write the tracks as JSON here.
    #[arg(long)]
    tracks: Option<PathBuf>,
    /// Write the tracks as MOT Challenge CSV here.
    #[arg(long)]
    mot: Option<PathBuf>,
    /// Print the tracks as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Chunk length in seconds for the parallel analysis (0: one chunk).
    #[arg(long, default_value_t = 4.0)]
    chunk_seconds: f64,
    /// Chunks analysed in parallel (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
}

#[derive(Args)]
struct UpscaleArgs {
    input: PathBuf,
    #[arg(short, long)]
    output: PathBuf,
    /// fast (Real-ESRGAN animevideov3), quality (Real-ESRGAN x4plus) or small (esrgan-slim).
    #[arg(long, default_value = "fast", value_parser = parse_model)]
    model: kino_shared::SrModel,
    /// 2 or 4 (quality has ×4 only).
    #[arg(long, default_value_t = 4)]
    factor: usize,
    /// Tile side in input pixels (default per model).
    #[arg(long)]
    tile: Option<usize>,
    /// Context pixels inferred around each tile and dropped (default per model).
    #[arg(long)]
    context: Option<usize>,
    /// One tile for the whole picture (memory grows with the picture).
    #[arg(long)]
    untiled: bool,
    /// Inference threads (0 = every core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Run the picture this many times and print ms per run (benchmarks).
    #[arg(long)]
    repeat: Option<usize>,
}

fn parse_model(s: &str) -> Result<kino_shared::SrModel, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|_| format!("unknown model '{s}' (fast, quality, small)"))
}

#[derive(Args)]
struct CutlistArgs {
    input: PathBuf,
    /// Detection settings, e.g. `silence_threshold_db=-50,silence_min_duration=1,margin=0.2,frozen=true`.
    #[arg(long, default_value = "", value_parser = parse_settings::<AutoEditParams>)]
    settings: AutoEditParams,
    /// Write the cut list here; the format follows the extension (.edl, .fcpxml, .otio). Repeatable.
    #[arg(short, long)]
    output: Vec<PathBuf>,
    /// Print the cut list (kept and removed frames) as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ScenesArgs {
    input: PathBuf,
    /// Detector settings: `min_scene_seconds=0.6,gradual=true`.
    #[arg(long, default_value = "", value_parser = parse_settings::<SceneParams>)]
    settings: SceneParams,
    /// Print the scene list as JSON.
    #[arg(long)]
    json: bool,
    /// Threads measuring chunks in parallel (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free one; the address is printed on stdout).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Bearer token required on every route but /api/health (required off loopback).
    #[arg(long, env = "KINO_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[arg(long, env = "KINO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Largest upload accepted, in bytes (default 50 GiB).
    #[arg(long, default_value_t = 50 * 1024 * 1024 * 1024)]
    max_upload_bytes: u64,
    /// Jobs rendering at once.
    #[arg(long, default_value_t = 2)]
    max_jobs: usize,
    /// Memory budget for all chunk workers, in MiB (shared evenly by the running jobs).
    #[arg(long, default_value_t = 2800)]
    max_memory_mb: u64,
    /// Chunk workers shared by all jobs (default: cores / 2, at least 1).
    #[arg(long)]
    workers: Option<usize>,
    /// Attempts per chunk before its job fails.
    #[arg(long, default_value_t = 3)]
    max_attempts: u32,
    /// The built web editor to serve at / (default: web/dist when present).
    #[arg(long)]
    web_dir: Option<PathBuf>,
}

#[derive(Args)]
struct RenderArgs {
    input: PathBuf,
    /// Output file (.mp4, .mov, .mkv or .webm).
    #[arg(short, long)]
    output: PathBuf,
    /// h264, h265, av1 or vp9.
    #[arg(long, default_value = "h264", value_parser = parse_codec)]
    codec: VideoCodec,
    /// Constant quality (0 = lossless for h264/h265).
    #[arg(long, default_value_t = 20)]
    crf: u8,
    /// Encoder preset (ultrafast … placebo).
    #[arg(long, default_value = "medium")]
    preset: String,
    /// Audio: auto (copy if the container allows, else re-encode), copy, aac, opus or none.
    #[arg(long, default_value = "auto", value_parser = parse_audio)]
    audio: AudioMode,
    /// An enhancement stage, in order: KIND[:key=value,...], e.g. `scale:width=1280` or
    /// `color:saturation=1.2,gamma=1.1`. Repeat for several.
    #[arg(long = "stage", value_parser = parse_stage::<StageSpec>, long_help = STAGE_HELP)]
    stages: Vec<StageSpec>,
    /// An audio stage, in order: KIND[:key=value,...], e.g. `loudness:target_lufs=-16,true_peak_db=-1`
    /// (presets: -14 streaming, -16 podcast, -23 EBU R128 broadcast).
    #[arg(long = "audio-stage", value_parser = parse_stage::<AudioStageSpec>, long_help = AUDIO_STAGE_HELP)]
    audio_stages: Vec<AudioStageSpec>,
    /// Detect scenes (cuts, dissolves, fades): scene list and thumbnails in the report, chapters in
    /// the output. Optional settings: `min_scene_seconds=0.6,gradual=true,thumbnails=true,chapters=true`.
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_parser = parse_settings::<SceneParams>)]
    scenes: Option<SceneParams>,
    /// Auto-edit: cut black, silent (and with `frozen=true`, frozen) stretches out of the output.
    /// Optional settings as for `cutlist --settings`, e.g. `silence_min_duration=1,margin=0.2`.
    #[arg(long, num_args = 0..=1, default_missing_value = "", value_parser = parse_settings::<AutoEditParams>)]
    auto_edit: Option<AutoEditParams>,
    /// With --auto-edit, also write the cut list for editors here (.edl, .fcpxml or .otio, by the
    /// extension; repeatable). It describes the source, so an editor can refine the cut.
    #[arg(long)]
    cut_list: Vec<PathBuf>,
    /// Target chunk length in seconds (chunks start at keyframes); 0 renders in one piece.
    #[arg(long, default_value_t = 4.0)]
    chunk_seconds: f64,
    /// Most chunks rendered in parallel (default: one per core; fewer when --max-memory-mb says so).
    #[arg(long)]
    jobs: Option<usize>,
    /// Memory budget for the chunk workers, in MiB (large frames get fewer workers and a shorter
    /// encoder look-ahead to stay inside it).
    #[arg(long, default_value_t = 1350)]
    max_memory_mb: u64,
    /// Where the job store and chunk files live.
    #[arg(long, env = "KINO_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Attempts per chunk before the job fails.
    #[arg(long, default_value_t = 3)]
    max_attempts: u32,
    /// Keep chunk files after assembly.
    #[arg(long)]
    keep_chunks: bool,
    /// Print progress events as JSON lines on stdout (for scripts), instead of a progress bar.
    #[arg(long)]
    events: bool,
    /// Also write what the analysis and audio passes found (scene list, audio sync, …) to this JSON file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// With a detect stage, write the tracks as JSON here.
    #[arg(long)]
    tracks: Option<PathBuf>,
    /// With a detect stage, write the tracks as MOT Challenge CSV here.
    #[arg(long)]
    mot: Option<PathBuf>,
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
             model=fast|quality|small (neural), blend, tile
  color      brightness, contrast, saturation, gamma, vibrance, temperature, tint,
             auto_white_balance, auto_levels
  denoise    mode=auto|manual, sigma, strength, temporal_radius
  sharpen    amount, radius, threshold
  hdr        mode=to_sdr|to_hdr, peak_nits
  stabilize  mode=smooth|tripod, smoothing_seconds, max_zoom, edge=black|clamp
  detect     every, classes=person+car, faces, min_score, blur=face+person, draw
  deinterlace mode=auto|frame|off (interlaced input is deinterlaced by default)
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

/// The data folder (created if needed) and its job store.
async fn open_store(data_dir: Option<PathBuf>) -> Result<(PathBuf, Store)> {
    let data_dir = data_dir.unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating data folder {}", data_dir.display()))?;
    let store = Store::open_sqlite(&data_dir)
        .await
        .context("opening the job store")?;
    Ok((data_dir, store))
}

fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(x).join("kino");
    }
    std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local/share/kino"))
        .unwrap_or_else(|| PathBuf::from(".kino"))
}

/// Exit codes: 1 render failed, 2 bad parameters, 3 bad input, 130 interrupted.
fn exit_code_for(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<UsageError>().is_some() {
        return 2;
    }
    if let Some(s) = e.downcast_ref::<service::ServiceError>() {
        use service::ServiceError as E;
        return match s {
            E::Invalid(_) | E::ModelUnavailable(_) => 2,
            E::BadMedia { source, .. } => media_code(source),
            _ => 1,
        };
    }
    if let Some(j) = e.downcast_ref::<JobError>() {
        return match j {
            JobError::Invalid(_) | JobError::Stage(_) => 2,
            JobError::Media(m) => media_code(m),
            _ => 1,
        };
    }
    if let Some(m) = e.downcast_ref::<MediaError>() {
        return media_code(m);
    }
    1
}

fn media_code(m: &MediaError) -> u8 {
    match m {
        MediaError::EncoderMissing(_) | MediaError::Output { .. } => 2,
        MediaError::Encode(_) | MediaError::Io { .. } => 1,
        // A model the job needs is missing or broken: the set-up, not the input, is at fault.
        MediaError::Model(_) => 2,
        _ => 3,
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("KINO_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Probe { input } => cmd_probe(&input),
        Command::Scenes(args) => cmd_scenes(args),
        Command::Cutlist(args) => cmd_cutlist(args),
        Command::Upscale(args) => cmd_upscale(args),
        Command::Detect(args) => cmd_detect(args),
        Command::Render(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the runtime")
            .and_then(|rt| rt.block_on(cmd_render(args))),
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the runtime")
            .and_then(|rt| rt.block_on(cmd_serve(args))),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // One line: the chain of causes joined.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("kino-node: error: {msg}");
            ExitCode::from(exit_code_for(&e))
        }
    }
}

/// `kino-node upscale`: one picture through a super-resolution network.
fn cmd_upscale(a: UpscaleArgs) -> Result<u8> {
    use kino_node::media::still;
    use kino_node::models::{sr::SrNet, tile::Tiling, Config};
    if a.factor != 2 && a.factor != 4 {
        return Err(UsageError(format!("--factor must be 2 or 4, got {}", a.factor)).into());
    }
    kino_node::media::init();
    let pic = still::read_rgb(&a.input)?;
    let cfg = Config::from_env()?;
    let mut net = SrNet::open(&cfg, a.model, a.factor, a.threads, a.tile)?;
    if let Some(c) = a.context {
        net.tiling.context = c;
    }
    if a.untiled {
        net.tiling = Tiling::whole(pic.width, pic.height);
    }
    let mut result = None;
    for _ in 0..a.repeat.unwrap_or(1).max(1) {
        let t = std::time::Instant::now();
        result = Some(net.upscale_rgb8(pic.width, pic.height, &pic.data)?);
        if a.repeat.is_some() {
            println!("{:.1} ms", t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let Some((width, height, data)) = result else {
        return Ok(1);
    };
    // quality ×2: the ×4 network, then a classic downscale.
    let (width, height, data) = if net.scale != a.factor {
        let shrink = net.scale / a.factor;
        let (w2, h2) = (width / shrink, height / shrink);
        let mut out = vec![0u8; w2 * h2 * 3];
        for y in 0..h2 {
            for x in 0..w2 {
                for c in 0..3 {
                    let mut sum = 0u32;
                    for dy in 0..shrink {
                        for dx in 0..shrink {
                            sum +=
                                data[((y * shrink + dy) * width + x * shrink + dx) * 3 + c] as u32;
                        }
                    }
                    out[(y * w2 + x) * 3 + c] =
                        ((sum + (shrink * shrink / 2) as u32) / (shrink * shrink) as u32) as u8;
                }
            }
        }
        (w2, h2, out)
    } else {
        (width, height, data)
    };
    still::write_png(
        &a.output,
        &still::Rgb8 {
            width,
            height,
            data,
        },
    )?;
    Ok(0)
}

/// Writes tracks as JSON and/or MOT CSV.
fn write_tracks(
    report: &kino_node::detect::mot::TracksReport,
    json: Option<&Path>,
    mot: Option<&Path>,
) -> Result<()> {
    if let Some(path) = json {
        std::fs::write(path, serde_json::to_vec_pretty(report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = mot {
        std::fs::write(path, report.to_mot())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `kino-node detect`: tracks of a file, without rendering.
fn cmd_detect(a: DetectArgs) -> Result<u8> {
    a.settings
        .validate()
        .map_err(|e| UsageError(e.to_string()))?;
    kino_node::detect::check_models(&a.settings).map_err(|e| UsageError(format!("detect: {e}")))?;
    kino_node::media::init();
    let workers = a.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let report = kino_node::pipeline::analyse::tracks_of_file(
        &a.input,
        &a.settings,
        a.chunk_seconds,
        workers,
    )?;
    write_tracks(&report, a.tracks.as_deref(), a.mot.as_deref())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    let boxes: usize = report.tracks.iter().map(|t| t.frames.len()).sum();
    println!(
        "{} tracks, {boxes} boxes in {} frames (detection on every {})",
        report.tracks.len(),
        report.frames,
        report.every
    );
    for t in &report.tracks {
        let (first, last) = (
            t.frames.first().map(|b| b.frame).unwrap_or(0),
            t.frames.last().map(|b| b.frame).unwrap_or(0),
        );
        println!(
            "{:>5}  {:<14} frames {first:>6}-{last:<6} {} detections",
            t.id,
            t.class,
            t.frames.len()
        );
    }
    Ok(0)
}

/// A usage problem found before any work (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

async fn cmd_serve(a: ServeArgs) -> Result<u8> {
    use kino_node::api::{self, ApiConfig, AppState};
    use kino_node::service::{Service, ServiceConfig};
    let token = a.token.filter(|t| !t.is_empty());
    if !a.listen.ip().is_loopback() && token.is_none() {
        return Err(UsageError(format!(
            "refusing to listen on {} without a token: set --token or KINO_TOKEN (or listen on 127.0.0.1)",
            a.listen
        ))
        .into());
    }
    let (data_dir, store) = open_store(a.data_dir).await?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let workers = a.workers.unwrap_or((cores / 2).max(1)).max(1);
    let svc = Service::new(
        store,
        ServiceConfig {
            data_dir: data_dir.clone(),
            max_jobs: a.max_jobs.max(1),
            chunk_slots: workers,
            memory_bytes: a.max_memory_mb * 1024 * 1024 / a.max_jobs.max(1) as u64,
            max_attempts: a.max_attempts.max(1),
            lease_ms: 30_000,
        },
    );
    let root = std::env::current_exe().ok().and_then(|e| {
        e.parent()
            .and_then(|p| p.parent())
            .and_then(|p| p.parent())
            .map(Path::to_path_buf)
    });
    let find = |rel: &str| -> Option<PathBuf> {
        [
            PathBuf::from(rel),
            root.clone().unwrap_or_default().join(rel),
        ]
        .into_iter()
        .find(|p| p.is_dir())
    };
    let web_dir = a.web_dir.or_else(|| find("web/dist"));
    let static_dir = find("static").unwrap_or_else(|| PathBuf::from("static"));
    let state = AppState {
        svc,
        config: Arc::new(ApiConfig {
            token,
            max_upload_bytes: a.max_upload_bytes,
            web_dir,
            static_dir,
        }),
        uploads: Arc::default(),
        redact: Arc::new(kino_node::api::redact::Redactor::new(&data_dir)),
    };
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("listening on {}", a.listen))?;
    let addr = listener.local_addr()?;
    println!("kino-node: listening on http://{addr}");
    eprintln!(
        "kino-node: serving http://{addr} (API docs at /api/docs), data in {}",
        data_dir.display()
    );
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
    Ok(0)
}

fn cmd_probe(input: &Path) -> Result<u8> {
    let p = probe::probe(input, true)?;
    println!("{}", serde_json::to_string_pretty(&p.info)?);
    Ok(0)
}

/// The cut list format of each path, by its extension.
fn cut_list_formats(paths: &[PathBuf]) -> Result<Vec<(PathBuf, ExportFormat)>, UsageError> {
    paths
        .iter()
        .map(|p| {
            ExportFormat::from_path(p)
                .map(|f| (p.clone(), f))
                .ok_or_else(|| {
                    UsageError(format!(
                        "{}: unknown cut list format (use .edl, .fcpxml or .otio)",
                        p.display()
                    ))
                })
        })
        .collect()
}

/// Writes a rendered job's cut list (from its report) in each format asked for.
async fn write_cut_lists(
    store: &Store,
    job: &str,
    formats: &[(PathBuf, ExportFormat)],
) -> Result<()> {
    let report = store
        .section::<job::AutoEditReport>(job)
        .await?
        .context("the job has no cut list")?;
    for (path, format) in formats {
        let text = format.write(&report.cut_list, &ExportOptions::default())?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn cmd_cutlist(a: CutlistArgs) -> Result<u8> {
    use kino_node::edit::measure::AutoEditError;
    a.settings
        .validate()
        .map_err(|e| UsageError(e.to_string()))?;
    let formats = cut_list_formats(&a.output)?;
    let list = match kino_node::edit::measure::cut_list(&a.input, &a.settings) {
        Ok(l) => l,
        Err(AutoEditError::Media(e)) => return Err(e.into()),
        Err(e) => return Err(e.into()),
    };
    for (path, format) in &formats {
        let text = format.write(&list, &ExportOptions::default())?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        let fps = list.source.rate.fps();
        println!(
            "kept {} of {} frames in {} segments",
            list.kept_frames(),
            list.source.duration_frames,
            list.kept.len()
        );
        for s in &list.kept {
            println!(
                "  keep {:>7}-{:<7} {:.3}s-{:.3}s",
                s.start,
                s.end,
                s.start as f64 / fps,
                s.end as f64 / fps
            );
        }
    }
    Ok(0)
}

fn cmd_scenes(a: ScenesArgs) -> Result<u8> {
    a.settings
        .validate()
        .map_err(|e| UsageError(e.to_string()))?;
    let workers = a.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let report = kino_node::pipeline::analyse::scenes_of_file(&a.input, a.settings, 4.0, workers)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    println!(
        "{} scenes in {} frames ({} cuts, {} dissolves, {} fades)",
        report.scenes.len(),
        report.frames,
        report.cuts,
        report.dissolves,
        report.fades
    );
    for sc in &report.scenes {
        let how = sc
            .transition
            .map(|t| format!("{t:?}").to_lowercase())
            .unwrap_or_else(|| "start".into());
        let span = format!("{:.3}s-{:.3}s", sc.start_seconds, sc.end_seconds);
        println!(
            "{:>4}  frames {:>6}-{:<6}  {span:<22}  {how}",
            sc.index + 1,
            sc.start_frame,
            sc.end_frame.saturating_sub(1),
        );
    }
    Ok(0)
}

async fn cmd_render(a: RenderArgs) -> Result<u8> {
    let input = std::path::absolute(&a.input)
        .with_context(|| format!("input path {}", a.input.display()))?;
    let output = std::path::absolute(&a.output)
        .with_context(|| format!("output path {}", a.output.display()))?;
    let mut audio_stages = a.audio_stages;
    kino_node::media::audio::absolute_tracks(&mut audio_stages)?;
    let spec = JobSpec {
        input: input.display().to_string(),
        stages: a.stages,
        audio_stages,
        scenes: a.scenes,
        auto_edit: a.auto_edit,
        output: OutputSpec {
            codec: a.codec,
            crf: a.crf,
            preset: a.preset,
            audio: a.audio,
            container: output
                .extension()
                .and_then(|e| e.to_str())
                .and_then(Container::from_extension)
                .ok_or_else(|| MediaError::Output {
                    path: output.display().to_string(),
                    reason: "unsupported output extension (use .mp4, .m4v, .mov, .mkv or .webm)"
                        .into(),
                })?,
        },
        chunk_seconds: a.chunk_seconds,
    };
    let cut_formats = cut_list_formats(&a.cut_list)?;
    if (a.tracks.is_some() || a.mot.is_some())
        && !spec
            .stages
            .iter()
            .any(|s| matches!(s, StageSpec::Detect(_)))
    {
        return Err(
            UsageError("--tracks and --mot need a detect stage (--stage detect)".into()).into(),
        );
    }
    if !cut_formats.is_empty() && spec.auto_edit.is_none() {
        return Err(UsageError("--cut-list needs --auto-edit".into()).into());
    }
    // Fail fast on bad parameters and input, before anything is stored: the checks HTTP jobs get.
    let admitted = service::admit(spec, input.clone(), output.clone()).await?;
    let spec = admitted.spec.clone();
    if output
        .parent()
        .is_some_and(|p| !p.as_os_str().is_empty() && !p.is_dir())
    {
        return Err(MediaError::Output {
            path: output.display().to_string(),
            reason: "its folder does not exist".into(),
        }
        .into());
    }

    let (data_dir, store) = open_store(a.data_dir).await?;
    let key = service::jobs::job_key(&input, &spec, &output)?;
    let (tx, rx) = tokio::sync::broadcast::channel(4096);
    let job_id = match store.find_resumable(&key).await? {
        Some(id) => id,
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            service::jobs::submit(&store, &tx, &admitted, &id, Some(&key)).await?;
            id
        }
    };
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let opts = JobOptions {
        workers: a.jobs.unwrap_or(cores).max(1),
        memory_bytes: a.max_memory_mb * 1024 * 1024,
        lease_ms: 30_000,
        max_attempts: a.max_attempts.max(1),
        keep_chunks: a.keep_chunks,
        data_dir: data_dir.clone(),
        slots: None,
        output_link: None,
    };

    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.store(true, Ordering::Relaxed);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
    }
    let printer = tokio::spawn(show_progress(rx, a.events));
    let outcome = run_job(&store, &job_id, &opts, tx, cancel).await;
    let _ = printer.await;
    match outcome? {
        JobOutcome::Done {
            output,
            frames,
            chunks,
            resumed,
        } => {
            eprintln!("kino-node: wrote {output} ({frames} frames, {chunks} chunks, {resumed} resumed from an earlier run)");
            if let Some(path) = &a.report {
                write_report(&store, &job_id, path, &data_dir).await?;
            }
            if !cut_formats.is_empty() {
                write_cut_lists(&store, &job_id, &cut_formats).await?;
            }
            if a.tracks.is_some() || a.mot.is_some() {
                let report = store
                    .section::<kino_node::detect::mot::TracksReport>(&job_id)
                    .await?
                    .context("the job has no tracks (it needs a detect stage)")?;
                write_tracks(&report, a.tracks.as_deref(), a.mot.as_deref())?;
            }
            Ok(0)
        }
        JobOutcome::Failed(reason) => {
            eprintln!("kino-node: error: render failed: {reason}");
            Ok(1)
        }
        JobOutcome::Cancelled => {
            eprintln!("kino-node: interrupted; run the same command again to resume");
            Ok(130)
        }
    }
}

/// Writes the job's report sections as one JSON object (`{"scenes": …, "audio_sync": …}`), and the
/// scene thumbnails into the folder beside it named like it with `.scenes`.
async fn write_report(store: &Store, job: &str, path: &Path, data_dir: &Path) -> Result<()> {
    let thumbs = kino_node::pipeline::job::scene_dir(data_dir, job);
    if thumbs.is_dir() {
        let folder = path.with_extension("scenes");
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("creating {}", folder.display()))?;
        for entry in std::fs::read_dir(&thumbs)? {
            let entry = entry?;
            std::fs::copy(entry.path(), folder.join(entry.file_name()))
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    let sections: serde_json::Map<String, serde_json::Value> =
        store.report_sections(job).await?.into_iter().collect();
    std::fs::write(path, serde_json::to_vec_pretty(&sections)?)
        .with_context(|| format!("writing the report {}", path.display()))?;
    Ok(())
}

/// Draws the progress bar (or prints JSON lines) until the event stream closes.
async fn show_progress(mut rx: tokio::sync::broadcast::Receiver<ProgressEvent>, json: bool) {
    let bar = ProgressBar::hidden();
    if !json {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} frames {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
    }
    let (mut chunks_done, mut chunks_total) = (0u32, 0u32);
    loop {
        let ev = match rx.recv().await {
            Ok(ev) => ev,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        };
        if json {
            if let Ok(s) = serde_json::to_string(&ev) {
                println!("{s}");
            }
        }
        match &ev {
            ProgressEvent::Planned {
                chunks,
                frames,
                resumed,
                ..
            } => {
                chunks_total = *chunks;
                chunks_done = *resumed;
                bar.set_length(*frames);
            }
            ProgressEvent::ChunkDone { .. } => chunks_done += 1,
            ProgressEvent::Analysed { done, total, .. } => {
                bar.set_message(format!("| analysing: chunks {done}/{total}"));
                bar.tick();
            }
            ProgressEvent::Frames {
                frames_done,
                fps,
                eta_seconds,
                ..
            } => {
                bar.set_position(*frames_done);
                let eta = eta_seconds
                    .map(|s| format!("{:02}:{:02}", (s as u64) / 60, (s as u64) % 60))
                    .unwrap_or_else(|| "--:--".into());
                bar.set_message(format!(
                    "| {fps:.1} fps | chunks {chunks_done}/{chunks_total} | ETA {eta}"
                ));
            }
            ProgressEvent::Warning { message, .. } => bar.println(format!("warning: {message}")),
            ProgressEvent::Done { .. } | ProgressEvent::Failed { .. } => {
                bar.finish_and_clear();
            }
            _ => {}
        }
    }
    bar.finish_and_clear();
}
