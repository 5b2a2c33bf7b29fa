//! The test media: the shared folder's clips, or equivalents generated with FFmpeg's synthetic
//! sources, and a per-process cache of generated media.

use crate::{ffmpeg, root};
use std::path::PathBuf;
use std::sync::OnceLock;

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
