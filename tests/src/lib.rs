//! Helpers for the end-to-end tests: locating the `kino-node` binary, the shared test media (or
//! generating equivalents with FFmpeg's synthetic sources), and independent measurements through the
//! `ffmpeg`/`ffprobe` command line.

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
