//! Neural upscaling of video rather than photos: `model=auto` picks the network by what the input
//! is, and a static shot with fresh noise in every frame does not flicker more than Lanczos.

use super::{models_dir, rgb};
use kino_node::enhance::{self, Context};
use kino_node::pipeline::model_choice::{choose, measure_input};
use kino_shared::{preview, Frame, ScaleParams, SrModel, StageSpec};
use kino_tests::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Drawn stand-ins: FFmpeg's test card and flat boxes moving over a flat fill, H.264 as usual.
fn drawn_clips() -> Vec<PathBuf> {
    let x264 = ["-c:v", "libx264", "-crf", "23", "-pix_fmt", "yuv420p"];
    let card = [
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=25:duration=2",
    ];
    let boxes = [
        "-f", "lavfi", "-i",
        "color=c=0x3080c0:size=640x360:rate=25:duration=2,drawbox=x='mod(t*100,500)':y=100:w=120:h=90:c=0xf0c020:t=fill,drawbox=x=300:y='50+mod(t*40,200)':w=60:h=60:c=0x202020:t=4",
    ];
    vec![
        generated("auto_card.mp4", &[&card[..], &x264].concat()),
        generated("auto_boxes.mp4", &[&boxes[..], &x264].concat()),
    ]
}

/// Filmed clips: the shared camera clips, or a detailed picture with fresh grain in every frame.
fn filmed_clips() -> Vec<PathBuf> {
    if shared_media().is_some() {
        return [
            "video_cockatoo_handheld_shaky.mp4",
            "video_pedestrians_campus_vtest.avi",
            "video_street_bikes_4cuts.mp4",
            "video_webcam_man_speaking.avi",
        ]
        .map(medium)
        .to_vec();
    }
    vec![generated(
        "auto_grain.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "mandelbrot=size=640x360:rate=25,noise=alls=10:allf=t",
            "-t",
            "2",
            "-c:v",
            "libx264",
            "-crf",
            "23",
            "-pix_fmt",
            "yuv420p",
        ],
    )]
}

#[test]
fn auto_picks_fast_for_drawn_and_span_for_filmed_video() {
    for (clips, drawn) in [(drawn_clips(), true), (filmed_clips(), false)] {
        for clip in clips {
            let measures = measure_input(&clip).expect("measuring");
            let c = choose(&measures);
            println!(
                "{}: flat {:.3}, palette {:.3} over {} frames → {}",
                clip.display(),
                c.measured.flat,
                c.measured.palette,
                c.frames,
                c.model.name()
            );
            assert!(c.frames >= 1);
            assert_eq!(c.drawn, drawn, "{}: {c:?}", clip.display());
            let expected = if drawn { SrModel::Fast } else { SrModel::Span };
            assert_eq!(c.model, expected);
        }
    }
}

#[test]
fn a_render_with_model_auto_says_which_network_it_ran() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = generated(
        "auto_small_boxes.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=0x3080c0:size=160x90:rate=10:duration=1,drawbox=x='t*60':y=20:w=40:h=30:c=0xf0c020:t=fill",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-g",
            "5",
        ],
    );
    let out = dir.path().join("up.mp4");
    let o = Command::new(kino_bin())
        .args(["render", s(&clip), "-o", s(&out), "--data-dir"])
        .arg(dir.path().join("data"))
        .args([
            "--preset",
            "ultrafast",
            "--events",
            "--chunk-seconds",
            "0.5",
        ])
        .args(["--stage", "scale:factor=2,model=auto"])
        .env("KINO_MODELS_DIR", models_dir())
        .output()
        .expect("render");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let notes: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("model=auto"))
        .collect();
    assert_eq!(notes.len(), 1, "{stdout}");
    assert!(
        notes[0].contains("runs 'fast'") && notes[0].contains("drawn"),
        "{}",
        notes[0]
    );
    assert_eq!(count_frames(&out), 10);
    let (w, h, _) = rgb(&out);
    assert_eq!((w, h), (320, 180));
}

/// A chunk decodes context frames for the noise hold (and for a temporal stage after the
/// network); the chain runs the network on the kept frames and only the context later stages
/// read, and the seams stay invisible.
#[test]
fn neural_then_temporal_stages_render_chunked_exactly_as_unchunked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clip = generated(
        "seam_boxes.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "color=c=0x3080c0:size=160x90:rate=10:duration=2,drawbox=x='t*40':y=20:w=40:h=30:c=0xf0c020:t=fill,noise=alls=6:allf=t",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-g",
            "3",
        ],
    );
    let mut md5s = Vec::new();
    for chunk in ["0", "0.5"] {
        let out = dir.path().join(format!("c{chunk}.mp4"));
        let o = Command::new(kino_bin())
            .args(["render", s(&clip), "-o", s(&out), "--data-dir"])
            .arg(dir.path().join(chunk))
            .args(["--crf", "0", "--chunk-seconds", chunk])
            .args(["--stage", "scale:factor=2,model=fast"])
            .args(["--stage", "denoise:strength=1,temporal_radius=1"])
            .env("KINO_MODELS_DIR", models_dir())
            .output()
            .expect("render");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(count_frames(&out), 20);
        md5s.push(frame_md5s(&out));
    }
    assert_eq!(md5s[0], md5s[1]);
}

/// A deterministic normal deviate stream (xorshift + Box–Muller).
struct Noise(u64);
impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (a, b) = (self.uniform(), self.uniform());
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
}

/// Mean absolute change between consecutive frames, per sample.
fn temporal_change(frames: &[Vec<u8>]) -> f64 {
    let pairs = frames.windows(2);
    let n = (frames.len() - 1) as f64;
    pairs
        .map(|p| {
            let sum: u64 = p[0]
                .iter()
                .zip(&p[1])
                .map(|(&a, &b)| a.abs_diff(b) as u64)
                .sum();
            sum as f64 / p[0].len() as f64
        })
        .sum::<f64>()
        / n
}

/// Lanczos ×`k` of interleaved RGB by the ffmpeg CLI.
fn lanczos(dir: &Path, w: usize, h: usize, rgb: &[u8], k: usize) -> Vec<u8> {
    let (src, dst) = (dir.join("in.rgb"), dir.join("out.rgb"));
    std::fs::write(&src, rgb).expect("write");
    let size = format!("{w}x{h}");
    let scale = format!("scale={}:{}:flags=lanczos", w * k, h * k);
    ffmpeg(&[
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        &size,
        "-i",
        s(&src),
        "-vf",
        &scale,
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        s(&dst),
    ]);
    std::fs::read(&dst).expect("read")
}

#[test]
fn a_static_shot_with_fresh_noise_flickers_no_more_than_lanczos() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A photo; without the shared folder an antialiased synthetic picture (FFmpeg's raw mandelbrot
    // is aliased to single-pixel noise, on which SPAN diverges even without added noise).
    let photo = match shared_media() {
        Some(_) => generated(
            "flicker_still.png",
            &[
                "-i",
                s(&medium("photo_coffee.png")),
                "-vf",
                "crop=256:160:180:120",
            ],
        ),
        None => generated(
            "flicker_still.png",
            &[
                "-f",
                "lavfi",
                "-i",
                "mandelbrot=size=2400x1600:end_pts=1",
                "-frames:v",
                "1",
                "-vf",
                "scale=600:400:flags=area,crop=256:160:180:120",
            ],
        ),
    };
    let (w, h, still) = rgb(&photo);
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    // A still with camera-like noise (σ = 3 levels), fresh in every frame.
    let frames: Vec<Vec<u8>> = (0..6)
        .map(|_| {
            still
                .iter()
                .map(|&v| (v as f64 + 3.0 * noise.normal()).round().clamp(0.0, 255.0) as u8)
                .collect()
        })
        .collect();
    let classic: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| lanczos(dir.path(), w, h, f, 2))
        .collect();
    let reference = temporal_change(&classic);
    let rgba = |rgb: &[u8]| -> Vec<u8> {
        rgb.chunks(3)
            .flat_map(|p| [p[0], p[1], p[2], 255])
            .collect()
    };
    let yuv: Vec<Frame> = frames
        .iter()
        .map(|f| preview::rgba_to_frame(&rgba(f), w, h).expect("frame"))
        .collect();
    let mut figures = Vec::new();
    for model in [SrModel::Span, SrModel::Fast] {
        // The scale stage as a chunk worker runs it: each frame with its neighbours.
        let spec = StageSpec::Scale(ScaleParams {
            factor: Some(2.0),
            model: Some(model),
            ..Default::default()
        });
        let mut stage = enhance::build(
            &[spec],
            &Context {
                threads: 2,
                ..Default::default()
            },
        )
        .expect("stage")
        .remove(0);
        let r = stage.margin().before;
        let up: Vec<Vec<u8>> = (0..yuv.len())
            .map(|i| {
                let window: Vec<&Frame> = (0..2 * r + 1)
                    .map(|k| &yuv[(i + k).saturating_sub(r).min(yuv.len() - 1)])
                    .collect();
                let out = stage.process(&window, r, 0).expect("upscale");
                preview::frame_to_rgba(&out)
                    .chunks(4)
                    .flat_map(|p| [p[0], p[1], p[2]])
                    .collect()
            })
            .collect();
        let change = temporal_change(&up);
        println!(
            "{}: frame-to-frame change {change:.3} levels, Lanczos {reference:.3} ({:+.1} %)",
            model.name(),
            (change / reference - 1.0) * 100.0
        );
        figures.push((model, change));
    }
    for (model, change) in figures {
        assert!(
            change <= reference * 1.10,
            "{} flickers: {change:.3} against {reference:.3}",
            model.name()
        );
    }
}
