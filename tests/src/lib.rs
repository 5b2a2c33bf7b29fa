//! Helpers for the end-to-end tests: locating the `kino-node` binary, the shared test media (or
//! generating equivalents with FFmpeg's synthetic sources), and independent measurements through the
//! `ffmpeg`/`ffprobe` command line.

pub mod montage;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_owned()
}

/// The `kino-node` binary of this build (built on first use if missing).
pub fn kino_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test exe");
        let dir = exe
            .parent()
            .and_then(|d| d.parent())
            .expect("target dir")
            .to_owned();
        let bin = dir.join("kino-node");
        let profile_release = dir.ends_with("release");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["build", "-q", "-p", "kino-node", "--bin", "kino-node"])
            .current_dir(root());
        if profile_release {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("running cargo build");
        assert!(st.success(), "building kino-node failed");
        assert!(
            bin.is_file(),
            "kino-node binary missing at {}",
            bin.display()
        );
        bin
    })
    .clone()
}

/// A path as the `&str` command lines take.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `kino-node render INPUT -o OUTPUT --data-dir DATA --preset ultrafast EXTRA…`; asserts success and
/// returns stderr.
pub fn render(input: &Path, output: &Path, data: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "render",
        s(input),
        "-o",
        s(output),
        "--data-dir",
        s(data),
        "--preset",
        "ultrafast",
    ];
    args.extend_from_slice(extra);
    let out = kino(&args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "render failed: {err}");
    err
}

/// Runs `kino-node` with `args`.
pub fn kino(args: &[&str]) -> Output {
    Command::new(kino_bin())
        .args(args)
        .output()
        .expect("running kino-node")
}

/// Mono samples (full scale ±1) of the first audio stream of `path` at `rate`, decoded by the
/// ffmpeg CLI.
pub fn mono_pcm(path: &Path, rate: u32) -> Vec<f32> {
    let r = rate.to_string();
    let out = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            s(path),
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-ar",
            &r,
            "-f",
            "f32le",
            "-",
        ],
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The Python of the reference tools' virtualenv (`scripts/test-tools.sh` makes it; the test command
/// runs that first).
pub fn tools_python() -> PathBuf {
    let py = root().join(".venv-tools/bin/python");
    assert!(
        py.is_file(),
        "{} missing: run `bash scripts/test-tools.sh` (the test command does)",
        py.display()
    );
    py
}

/// Runs a command, panicking with its stderr when it fails.
pub fn run(cmd: &str, args: &[&str]) -> Output {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `ffmpeg -v error -y ARGS`.
pub fn ffmpeg(args: &[&str]) {
    let mut all = vec!["-hide_banner", "-v", "error", "-y"];
    all.extend_from_slice(args);
    run("ffmpeg", &all);
}

/// ffprobe's JSON for `entries` of `path`.
pub fn ffprobe_json(path: &Path, extra: &[&str]) -> Value {
    let p = path.to_str().expect("utf-8 path");
    let mut args = vec!["-v", "error", "-of", "json"];
    args.extend_from_slice(extra);
    args.push(p);
    let out = run("ffprobe", &args);
    serde_json::from_slice(&out.stdout).expect("ffprobe json")
}

/// Decoded video frame count, counted by ffprobe.
pub fn count_frames(path: &Path) -> u64 {
    let v = ffprobe_json(
        path,
        &[
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
        ],
    );
    v["streams"][0]["nb_read_frames"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("nb_read_frames")
}

/// Presentation times (seconds) of every decoded video frame.
pub fn frame_times(path: &Path) -> Vec<f64> {
    let v = ffprobe_json(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "frame=best_effort_timestamp_time",
        ],
    );
    v["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .filter_map(|f| {
            f["best_effort_timestamp_time"]
                .as_str()
                .and_then(|s| s.parse().ok())
        })
        .collect()
}

/// A stream's duration in seconds as ffprobe reports it (`v:0`, `a:0`…).
pub fn stream_duration(path: &Path, sel: &str) -> f64 {
    let v = ffprobe_json(
        path,
        &[
            "-select_streams",
            sel,
            "-show_entries",
            "stream=duration:stream_tags=DURATION",
        ],
    );
    let st = &v["streams"][0];
    if let Some(d) = st["duration"].as_str().and_then(|s| s.parse().ok()) {
        return d;
    }
    // Matroska keeps it as a tag, "HH:MM:SS.nnnnnnnnn".
    let tag = st["tags"]["DURATION"].as_str().expect("stream duration");
    tag.split(':').fold(0.0, |acc, part| {
        acc * 60.0 + part.parse::<f64>().expect("duration tag")
    })
}

pub fn stream_start(path: &Path, sel: &str) -> f64 {
    let v = ffprobe_json(
        path,
        &["-select_streams", sel, "-show_entries", "stream=start_time"],
    );
    v["streams"][0]["start_time"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

/// MD5 of every decoded video frame (FFmpeg's framemd5 muxer), in presentation order.
pub fn frame_md5s(path: &Path) -> Vec<String> {
    let out = run(
        "ffmpeg",
        &[
            "-v",
            "error",
            "-i",
            path.to_str().expect("utf-8"),
            "-map",
            "0:v:0",
            "-fps_mode",
            "passthrough",
            "-f",
            "framemd5",
            "-",
        ],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|s| s.trim().to_owned()))
        .collect()
}

/// The shared media folder, when this checkout has one beside it (and `KINO_TEST_NO_SHARED` is
/// unset: set it to check that the generated stand-ins work).
pub fn shared_media() -> Option<PathBuf> {
    if std::env::var_os("KINO_TEST_NO_SHARED").is_some() {
        return None;
    }
    let dir = root().parent()?.join("shared").join("media");
    dir.is_dir().then_some(dir)
}

/// A scratch folder shared by the tests of one process for generated media.
pub fn cache_dir() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("tempdir"))
        .path()
        .to_owned()
}

/// A test medium by its shared name, or an equivalent generated with FFmpeg when the shared folder is
/// absent (same container, codec, size and rate where FFmpeg can make them).
pub fn medium(name: &str) -> PathBuf {
    if let Some(dir) = shared_media() {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let out = cache_dir().join(name);
    if out.is_file() {
        return out;
    }
    let o = out.to_str().expect("utf-8");
    match name {
        "video_pedestrians_campus_vtest.avi" => ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=768x576:rate=10:duration=79.5",
            "-c:v",
            "msmpeg4",
            "-q:v",
            "4",
            o,
        ]),
        "video_street_bikes_4cuts.mp4" => ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=640x272:rate=25:duration=10",
            "-vf",
            "hue=h=t*72",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            o,
        ]),
        // Speech-like stand-ins: a voiced tone with syllable-rate amplitude modulation and pauses.
        "speech_read_english_16k_11s.wav" | "speech_audiobook_male_16k_7s.wav" => {
            let d = if name.contains("11s") { "10.8" } else { "7.1" };
            let expr = "0.5*sin(2*PI*180*t)*sin(2*PI*360*t+1)*abs(sin(2*PI*2.5*t))*gt(sin(2*PI*0.4*t)\\,-0.6)";
            ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                &format!("aevalsrc={expr}:s=16000:d={d}"),
                "-c:a",
                "pcm_s16le",
                o,
            ])
        }
        "av_speech_6ch_channel_ident_EBU.mp4" => ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "color=c=gray:size=800x600:rate=8:duration=46.6",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=1000:duration=46.6,volume=0.3,aformat=channel_layouts=5.1",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
            o,
        ]),
        // Photo stand-ins: one detailed synthetic picture of the same size.
        n if n.starts_with("photo_") => {
            let size = match n {
                "photo_astronaut.png" => "512x512",
                "photo_chelsea_cat.png" => "451x300",
                "photo_coffee.png" => "600x400",
                _ => "2268x1512",
            };
            ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                &format!("mandelbrot=size={size}:end_pts=1"),
                "-frames:v",
                "1",
                o,
            ])
        }
        // Handheld stand-in: a detailed picture panned with a wobble.
        "video_cockatoo_handheld_shaky.mp4" => ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "mandelbrot=size=1280x720:rate=30,crop=1000:560:x='140+30*sin(n/9)+9*sin(n*1.7)':y='80+20*sin(n/13)+7*sin(n*2.3)',scale=1280:720",
            "-t",
            "14",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            o,
        ]),
        // Webcam stand-in: moving colour gradients, 160x120 MJPEG at 15 fps with 8-bit sound.
        "video_webcam_man_speaking.avi" => ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "gradients=size=160x120:rate=15:speed=0.05:seed=3:duration=4.5",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=300:sample_rate=11025:duration=4.5",
            "-c:v",
            "mjpeg",
            "-q:v",
            "4",
            "-c:a",
            "pcm_u8",
            o,
        ]),
        other => panic!("no generator for test medium {other}"),
    }
    out
}

/// Generates `name` in the cache with `ffmpeg ARGS… name` once per test process.
pub fn generated(name: &str, args: &[&str]) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let out = cache_dir().join(name);
    if !out.is_file() {
        let tmp = cache_dir().join(format!("tmp-{}-{name}", std::process::id()));
        let mut all: Vec<&str> = args.to_vec();
        let t = tmp.to_str().expect("utf-8");
        all.push(t);
        ffmpeg(&all);
        std::fs::rename(&tmp, &out).expect("rename generated medium");
    }
    out
}

/// A `kino-node serve` process on 127.0.0.1 with a random port.
pub struct Node {
    child: std::process::Child,
    pub base: String,
    pub data: PathBuf,
}

impl Node {
    /// Starts a node on `data` with extra serve arguments and waits until it listens.
    pub fn start(data: &Path, extra: &[&str]) -> Node {
        Node::start_with_env(data, extra, &[])
    }

    /// Like [`Node::start`], with extra environment variables for the node.
    pub fn start_with_env(data: &Path, extra: &[&str], env: &[(&str, &Path)]) -> Node {
        use std::io::BufRead;
        std::fs::create_dir_all(data).expect("data dir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data.join("node.log"))
            .expect("log");
        let mut child = Command::new(kino_bin())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                data.to_str().expect("utf-8"),
            ])
            .args(extra)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("starting kino-node serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("reading listen line");
        let base = line.trim().rsplit(' ').next().expect("address").to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "unexpected first line: {line}"
        );
        Node {
            child,
            base,
            data: data.to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> String {
    let out = run("sha256sum", &[path.to_str().expect("utf-8")]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sha")
        .to_owned()
}

/// Runs the tus-js-client script (tests/js) and returns its JSON line.
pub fn tus_js(args: &[&str]) -> Value {
    let js = root().join("tests").join("js");
    assert!(
        js.join("node_modules").join("tus-js-client").is_dir(),
        "tus-js-client missing: run scripts/setup.sh"
    );
    let out = Command::new("node")
        .arg(js.join("tus-upload.mjs"))
        .args(args)
        .output()
        .expect("running node");
    assert!(
        out.status.success(),
        "tus-js-client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().expect("output line")).expect("json line")
}

/// Width and height from a YUV4MPEG2 header line, if it describes 8-bit 4:2:0 (the only kind the
/// helpers here read; FFmpeg writes `C420jpeg` for yuv420p, and no `C` tag means 4:2:0 too).
fn y4m_420_size(header: &str) -> Option<(usize, usize)> {
    let tag = |p: char| header.split_whitespace().find(|t| t.starts_with(p));
    let num = |p: char| tag(p).and_then(|t| t[1..].parse().ok());
    // The 8-bit 4:2:0 sitings; `C420p10` and the like are deeper.
    let c = tag('C').unwrap_or("C420");
    if !matches!(c, "C420" | "C420jpeg" | "C420mpeg2" | "C420paldv") {
        return None;
    }
    num('W').zip(num('H'))
}

/// Copies a YUV4MPEG2 (`.y4m`, 8-bit) file adding Gaussian noise of standard deviation `sigma` to
/// every sample (Box–Muller over xorshift, seeded: the same call gives the same noise).
pub fn add_noise_y4m(input: &Path, output: &Path, sigma: f64, seed: u64) -> std::io::Result<()> {
    use std::io::{BufRead, BufReader, BufWriter, Read, Write};
    let mut r = BufReader::new(std::fs::File::open(input)?);
    let mut w = BufWriter::new(std::fs::File::create(output)?);
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_owned());
    let mut header = String::new();
    r.read_line(&mut header)?;
    let (width, height) = y4m_420_size(&header).ok_or_else(|| bad("not an 8-bit 4:2:0 y4m"))?;
    let frame_len = width * height + 2 * width.div_ceil(2) * height.div_ceil(2);
    w.write_all(header.as_bytes())?;
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut buf = vec![0u8; frame_len];
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        if !line.starts_with("FRAME") {
            return Err(bad("expected FRAME"));
        }
        r.read_exact(&mut buf)?;
        for v in buf.iter_mut() {
            let (u1, u2) = (uniform(), uniform());
            let g = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            *v = (*v as f64 + sigma * g).round().clamp(0.0, 255.0) as u8;
        }
        w.write_all(line.as_bytes())?;
        w.write_all(&buf)?;
    }
    w.flush()
}

/// PSNR (dB, luma+chroma average as FFmpeg reports it) and SSIM (all) of `a` against `reference`.
pub fn psnr_ssim(a: &Path, reference: &Path) -> (f64, f64) {
    let out = run(
        "ffmpeg",
        &[
            "-hide_banner",
            "-i",
            s(a),
            "-i",
            s(reference),
            "-lavfi",
            "[0:v][1:v]psnr;[0:v][1:v]ssim",
            "-f",
            "null",
            "-",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let grab = |key: &str| -> f64 {
        err.lines()
            .rev()
            .find_map(|l| {
                let i = l.find(key)?;
                l[i + key.len()..]
                    .split_whitespace()
                    .next()?
                    .parse::<f64>()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no {key} in ffmpeg output:\n{err}"))
    };
    (grab("average:"), grab("All:"))
}

/// The frames of an 8-bit 4:2:0 YUV4MPEG2 file, as the kernels take them.
pub fn read_y4m(path: &Path) -> Vec<kino_shared::Frame> {
    use kino_shared::{ChromaLayout, ColourInfo, Frame, Samples};
    let data = std::fs::read(path).expect("reading y4m");
    let nl = data.iter().position(|&b| b == b'\n').expect("y4m header");
    let header = String::from_utf8_lossy(&data[..nl]).into_owned();
    let (w, h) = y4m_420_size(&header).expect("an 8-bit 4:2:0 y4m with W and H");
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut frames = Vec::new();
    let mut i = nl + 1;
    while i < data.len() {
        let line_end = i + data[i..]
            .iter()
            .position(|&b| b == b'\n')
            .expect("FRAME line");
        i = line_end + 1;
        // FFmpeg writes JPEG-sited chroma as C420jpeg (also the default) and MPEG-2 as C420mpeg2.
        let colour = ColourInfo {
            chroma_center: !header.contains("C420mpeg2") && !header.contains("C420paldv"),
            ..ColourInfo::default()
        };
        let mut f = Frame::new(w, h, ChromaLayout::Yuv420, 8, colour);
        for (k, len) in [w * h, cw * ch, cw * ch].into_iter().enumerate() {
            f.planes[k].samples = Samples::U8(data[i..i + len].to_vec());
            i += len;
        }
        frames.push(f);
    }
    frames
}

/// Writes 8-bit 4:2:0 frames as YUV4MPEG2 at 25 fps.
pub fn write_y4m(path: &Path, frames: &[kino_shared::Frame]) {
    use kino_shared::Samples;
    let f0 = frames.first().expect("at least one frame");
    let mut out = format!(
        "YUV4MPEG2 W{} H{} F25:1 Ip A1:1 C420jpeg\n",
        f0.width, f0.height
    )
    .into_bytes();
    for f in frames {
        out.extend_from_slice(b"FRAME\n");
        for p in &f.planes {
            match &p.samples {
                Samples::U8(d) => out.extend_from_slice(d),
                Samples::U16(_) => panic!("8-bit frames only"),
            }
        }
    }
    std::fs::write(path, out).expect("writing y4m");
}

/// Decoded frames of a video as 8-bit 4:2:0 (through a y4m in the cache).
pub fn decoded_frames(video: &Path) -> Vec<kino_shared::Frame> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let y4m = cache_dir().join(format!("decoded-{}-{n}.y4m", std::process::id()));
    ffmpeg(&["-i", s(video), "-pix_fmt", "yuv420p", s(&y4m)]);
    let frames = read_y4m(&y4m);
    let _ = std::fs::remove_file(&y4m);
    frames
}

/// Frame-to-frame global motion of a video: (dx, dy) in pixels and rotation in degrees, measured
/// with the motion kernel (validated against known synthetic motion in its unit tests).
pub fn video_motion(video: &Path) -> Vec<(f32, f32, f32)> {
    use kino_shared::kernels::motion;
    let frames = decoded_frames(video);
    let lumas: Vec<_> = frames
        .iter()
        .map(|f| motion::analysis_luma(f, 480))
        .collect();
    lumas
        .windows(2)
        .map(|w| {
            let m = motion::estimate(&w[0].0, &w[1].0, w[1].1);
            (m.dx, m.dy, m.angle.to_degrees())
        })
        .collect()
}

/// Root mean square.
pub fn rms(v: impl Iterator<Item = f32>) -> f32 {
    let v: Vec<f32> = v.collect();
    (v.iter().map(|x| x * x).sum::<f32>() / v.len().max(1) as f32).sqrt()
}

/// High-frequency part of frame-to-frame motion (RMS px of what a 9-frame moving average leaves):
/// the shake, without the intended camera movement.
pub fn jitter(m: &[(f32, f32, f32)]) -> f32 {
    let n = m.len();
    rms((0..n).flat_map(|i| {
        let (lo, hi) = (i.saturating_sub(4), (i + 5).min(n));
        let k = (hi - lo) as f32;
        let (ax, ay) = m[lo..hi]
            .iter()
            .fold((0.0, 0.0), |a, v| (a.0 + v.0 / k, a.1 + v.1 / k));
        [m[i].0 - ax, m[i].1 - ay]
    }))
}

/// Runs `kino-node ARGS…` (with `--events`), hands each event to `stop`, and SIGKILLs the process
/// the first time `stop` returns true. Returns the events read until then.
pub fn kill_when(args: &[&str], mut stop: impl FnMut(&Value) -> bool) -> Vec<Value> {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(kino_bin())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting kino-node");
    let mut seen = Vec::new();
    let out = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(out).lines() {
        let ev: Value = serde_json::from_str(&line.expect("event line")).expect("event JSON");
        let done = stop(&ev);
        seen.push(ev);
        if done {
            break;
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaping kino-node");
    seen
}

/// Runs `kino-node ARGS…` (with `--events`) to success and returns its events.
pub fn events_of(args: &[&str]) -> Vec<Value> {
    let o = kino(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("event JSON"))
        .collect()
}

/// The workspace's `models/` folder, asserting it holds ONNX Runtime and each of `files` (the set-up
/// puts them there; the test command runs it).
pub fn models_dir_with(files: &[&str]) -> PathBuf {
    let dir = root().join("models");
    for f in std::iter::once(&"libonnxruntime.so").chain(files) {
        assert!(
            dir.join(f).is_file(),
            "{} has no {f}: run `bash scripts/setup.sh` (the test command does)",
            dir.display()
        );
    }
    dir
}

/// Integrated loudness (LUFS) and true peak (dBTP) as FFmpeg's ebur128 filter measures them.
pub fn ebur128(path: &Path) -> (f64, f64) {
    let out = std::process::Command::new("ffmpeg")
        .args([
            "-nostats",
            "-i",
            s(path),
            "-map",
            "0:a:0",
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = text.split("Summary:").nth(1).expect("ebur128 summary");
    let value = |key: &str| -> f64 {
        summary
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{key} missing in {summary}"))
    };
    (value("I:"), value("Peak:"))
}

/// A PostgreSQL server of the tests' own (Debian's `postgresql` package, `initdb` + `pg_ctl` in a
/// temporary folder, a free port on 127.0.0.1, trust authentication for user `kino`), stopped when
/// dropped. `pg_stat_statements` is loaded so tests can count the statements a call costs.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
}

impl Postgres {
    /// Starts a server; `None` (with a note) when PostgreSQL is not installed, except under `CI=true`,
    /// where a missing PostgreSQL fails the run.
    pub fn start() -> Option<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").is_file())
            .max();
        let Some(bin) = bin else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL is not installed (scripts/setup.sh installs Debian's postgresql)"
            );
            eprintln!("PostgreSQL is not installed: skipping (scripts/setup.sh installs it)");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("kino-pg-")
            .tempdir()
            .expect("temporary folder");
        // initdb refuses to run as root: the server runs as the package's `postgres` user then.
        let uid = Command::new("id").arg("-u").output().expect("id -u");
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        if as_postgres {
            run("chown", &["-R", "postgres:postgres", s(dir.path())]);
        }
        let pg = Postgres {
            port: free_port(),
            dir,
            bin,
            as_postgres,
        };
        let data = pg.dir.path().join("data");
        pg.run_pg(
            "initdb",
            &[
                "-D",
                s(&data),
                "-A",
                "trust",
                "-U",
                "kino",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c shared_preload_libraries=pg_stat_statements",
            pg.port,
            s(pg.dir.path())
        );
        let log = pg.dir.path().join("log");
        pg.run_pg(
            "pg_ctl",
            &["-D", s(&data), "-o", &opts, "-l", s(&log), "-w", "start"],
        );
        Some(pg)
    }

    fn run_pg(&self, tool: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(tool);
        let exe = s(&exe).to_owned();
        if self.as_postgres {
            let mut all = vec!["-u", "postgres", "--", exe.as_str()];
            all.extend_from_slice(args);
            run("runuser", &all)
        } else {
            run(&exe, args)
        }
    }

    /// A new, empty database on this server; its URL.
    pub fn database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        format!("postgres://kino@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs `sql` in database `db` with psql; its output, unaligned and without headers.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let port = self.port.to_string();
        let psql = [self.bin.join("psql"), PathBuf::from("/usr/bin/psql")]
            .into_iter()
            .find(|p| p.is_file())
            .map(|p| s(&p).to_owned())
            .unwrap_or_else(|| "psql".to_owned());
        let out = run(
            &psql,
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "kino",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-A",
                "-t",
                "-c",
                sql,
            ],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let exe = self.bin.join("pg_ctl");
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        let _ = cmd
            .args(["-D", s(&data), "-m", "fast", "-w", "stop"])
            .output();
    }
}

/// A TCP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
