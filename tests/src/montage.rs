//! A video joined from real shots at known frames (hard cuts, 1 s dissolves, a fade through black)
//! for scene detection, and the precision/recall/F1 scoring of detected transitions against it;
//! shared by the tests and the scene benchmark (`kino-montage`).

use crate::{generated, medium, s};
use std::path::PathBuf;

pub const FPS: f64 = 25.0;

/// How one shot passes to the next.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Join {
    Cut,
    Dissolve,
    FadeBlack,
}

/// One shot: the ffmpeg input arguments, the filter that frames it, and its length in seconds.
struct Shot {
    input: Vec<String>,
    filter: String,
    seconds: f64,
}

/// `seconds` of clip `name` from `start`. The clip is decoded from its beginning and trimmed in the
/// filter, not seeked with `-ss`: the cockatoo clip comes from an old x264 that FFmpeg decodes
/// right only after the first frame's SEI, so from a later keyframe its shots were grey blocks,
/// different on every run with threaded decoding, and the montage (and what the detectors found on
/// it) changed from run to run.
fn clip(name: &str, start: f64, seconds: f64) -> Shot {
    Shot {
        input: vec![
            "-t".into(),
            (start + seconds + 0.5).to_string(),
            "-i".into(),
            s(&medium(name)).into(),
        ],
        filter: format!(
            "trim=start={start},setpts=PTS-STARTPTS,scale=640:360:force_original_aspect_ratio=increase,crop=640:360"
        ),
        seconds,
    }
}

fn photo(name: &str, filter: &str, seconds: f64) -> Shot {
    Shot {
        input: vec![
            "-loop".into(),
            "1".into(),
            "-framerate".into(),
            "25".into(),
            "-t".into(),
            (seconds + 0.5).to_string(),
            "-i".into(),
            s(&medium(name)).into(),
        ],
        filter: filter.into(),
        seconds,
    }
}

/// A transition in the ground truth: its first and last frame (equal for a cut).
pub type Truth = (usize, usize);

/// Ten shots from the shared clips and photos (a slow zoom, a pan), joined by five cuts, three
/// 1 s dissolves and a 1 s fade through black, at 640×360, 25 fps.
pub fn montage() -> (PathBuf, Vec<Truth>) {
    let shots = [
        clip("video_cockatoo_handheld_shaky.mp4", 0.0, 3.0),
        clip("video_pedestrians_campus_vtest.avi", 0.0, 3.0),
        photo(
            "photo_astronaut.png",
            "scale=1280:1280,zoompan=z='1+0.003*on':d=1:s=640x360:fps=25",
            3.0,
        ),
        clip("video_street_bikes_4cuts.mp4", 3.1, 2.3),
        clip("video_pedestrians_campus_vtest.avi", 40.0, 3.0),
        clip("video_cockatoo_handheld_shaky.mp4", 6.0, 3.0),
        photo(
            "photo_coffee.png",
            "scale=1280:-2,crop=640:360:x='min(t*120\\,600)':y=120",
            3.0,
        ),
        clip("video_webcam_man_speaking.avi", 0.5, 3.0),
        clip("video_cockatoo_handheld_shaky.mp4", 10.0, 3.0),
        clip("video_pedestrians_campus_vtest.avi", 60.0, 3.0),
    ];
    let joins = [
        Join::Cut,
        Join::Dissolve,
        Join::Cut,
        Join::Cut,
        Join::FadeBlack,
        Join::Dissolve,
        Join::Cut,
        Join::Dissolve,
        Join::Cut,
    ];
    let mut args: Vec<String> = Vec::new();
    let mut graph = String::new();
    for (i, shot) in shots.iter().enumerate() {
        args.extend(shot.input.iter().cloned());
        graph += &format!(
            "[{i}:v]{},fps=25,format=yuv420p,setsar=1,trim=duration={},setpts=PTS-STARTPTS,settb=1/25[s{i}];",
            shot.filter, shot.seconds
        );
    }
    let mut truth = Vec::new();
    let mut length = shots[0].seconds;
    let mut cur = "s0".to_string();
    for (i, join) in joins.iter().enumerate() {
        let next = format!("s{}", i + 1);
        let out = format!("j{}", i + 1);
        match join {
            Join::Cut => {
                let f = (length * FPS).round() as usize;
                truth.push((f, f));
                graph += &format!("[{cur}][{next}]concat=n=2:v=1:a=0,settb=1/25[{out}];");
                length += shots[i + 1].seconds;
            }
            Join::Dissolve | Join::FadeBlack => {
                let offset = length - 1.0;
                let f = (offset * FPS).round() as usize;
                truth.push((f, f + 24));
                let kind = if *join == Join::Dissolve {
                    "fade"
                } else {
                    "fadeblack"
                };
                graph += &format!(
                    "[{cur}][{next}]xfade=transition={kind}:duration=1:offset={offset},settb=1/25[{out}];"
                );
                length += shots[i + 1].seconds - 1.0;
            }
        }
        cur = out;
    }
    graph.pop();
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    let map = format!("[{cur}]");
    all.extend([
        "-filter_complex",
        &graph,
        "-map",
        &map,
        "-c:v",
        "libx264",
        "-preset",
        "fast",
        "-crf",
        "20",
        "-g",
        "50",
    ]);
    (generated("scenes_montage.mp4", &all), truth)
}

/// Precision, recall and F1 of detected transition frames against the truth: a detection matches
/// an unmatched transition when it lies within it, or within 2 frames of it.
pub fn score(found: &[usize], truth: &[Truth]) -> (f64, f64, f64) {
    let mut used = vec![false; truth.len()];
    let mut hits = 0;
    for &f in found {
        if let Some(k) = truth
            .iter()
            .enumerate()
            .position(|(k, &(a, b))| !used[k] && f + 2 >= a && f <= b + 2)
        {
            used[k] = true;
            hits += 1;
        }
    }
    let p = if found.is_empty() {
        0.0
    } else {
        hits as f64 / found.len() as f64
    };
    let r = hits as f64 / truth.len().max(1) as f64;
    let f1 = if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    };
    (p, r, f1)
}
