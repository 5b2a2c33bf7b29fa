//! The render core end to end: the real `kino-node` binary on real and generated media, measured with
//! the `ffmpeg`/`ffprobe` command line.

mod bad_input;
mod chunks;
mod compare;
mod formats;
mod target;
mod timing;

use kino_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Frame count and duration of the output equal the input's.
fn assert_same_timing(input: &Path, output: &Path) {
    let (fi, fo) = (count_frames(input), count_frames(output));
    assert_eq!(
        fi,
        fo,
        "frame count {} -> {}",
        input.display(),
        output.display()
    );
    let (ti, to) = (frame_times(input), frame_times(output));
    assert_eq!(ti.len(), to.len());
    for (a, b) in ti.iter().zip(&to) {
        assert!((a - b).abs() < 1e-3, "frame time {a} became {b}");
    }
    let (di, dout) = (
        stream_duration(input, "v:0"),
        stream_duration(output, "v:0"),
    );
    assert!((di - dout).abs() < 1e-3, "duration {di} became {dout}");
}
