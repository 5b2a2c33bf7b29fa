//! Rendering a cut list: which decoded frames stay and where they land on the output's clock.
//!
//! A frame belongs to cut-list frame `round((pts − first_pts) × rate)` (the rule the detection
//! used). A kept frame moves earlier by the duration of every removed frame before it, counted in
//! whole frames at the nominal rate, so the output keeps the source's frame cadence and each chunk
//! can be re-timed alone, in any order, on any node. Audio is cut at the same frame starts, so
//! picture and sound stay together across every cut.

use super::{CutList, Segment};
use crate::media::audio::AudioCut;

/// The kept frames of one source, mapped onto the output's time line.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    kept: Vec<Segment>,
    total: u64,
    first_pts: i64,
    /// Stream time base, `num/den` seconds per tick.
    tb: (i64, i64),
    /// Frame rate, `num/den` frames per second.
    rate: (i64, i64),
    /// Seconds of the first frame on the container's clock (where audio is cut).
    first_seconds: f64,
}

impl Timeline {
    /// The time line of `cut` for a video stream whose first frame has `first_pts` in time base
    /// `tb` (`num`, `den`).
    pub fn new(cut: &CutList, first_pts: i64, tb: (i32, i32)) -> Self {
        let tb = (i64::from(tb.0.max(1)), i64::from(tb.1.max(1)));
        Timeline {
            kept: cut.kept.clone(),
            total: cut.source.duration_frames,
            first_pts,
            tb,
            rate: (
                i64::from(cut.source.rate.num.max(1)),
                i64::from(cut.source.rate.den.max(1)),
            ),
            first_seconds: first_pts as f64 * tb.0 as f64 / tb.1 as f64,
        }
    }

    /// Cut-list frame of a timestamp, clamped to the source (frames past its end count as its last).
    fn index(&self, pts: i64) -> u64 {
        let num = (pts - self.first_pts) as i128 * self.tb.0 as i128 * self.rate.0 as i128;
        let den = self.tb.1 as i128 * self.rate.1 as i128;
        // Round half up, in integers: exact for every time base.
        let i = (2 * num + den).div_euclid(2 * den);
        i.clamp(0, self.total.saturating_sub(1) as i128) as u64
    }

    /// Whether the frame shown at `pts` is in the result.
    pub fn keeps(&self, pts: i64) -> bool {
        let i = self.index(pts);
        self.kept.iter().any(|s| s.start <= i && i < s.end)
    }

    /// Whether any frame with a timestamp in `[start, end)` is kept (`end` may be `i64::MAX`).
    pub fn keeps_any(&self, start: i64, end: i64) -> bool {
        let a = self.index(start);
        // Frames before `end`: the one at `end` belongs to what follows. A chunk has a frame.
        let b = if end == i64::MAX {
            self.total
        } else {
            self.index(end)
        }
        .max(a + 1);
        self.kept.iter().any(|s| s.start < b && a < s.end)
    }

    /// Removed frames before frame `i`.
    fn removed_before(&self, i: u64) -> u64 {
        let kept: u64 = self
            .kept
            .iter()
            .map(|s| s.end.min(i).saturating_sub(s.start.min(i)))
            .sum();
        i - kept
    }

    /// Ticks (stream time base) of `n` frames at the nominal rate, rounded.
    fn ticks(&self, n: u64) -> i64 {
        let num = n as i128 * self.rate.1 as i128 * self.tb.1 as i128;
        let den = self.rate.0 as i128 * self.tb.0 as i128;
        ((2 * num + den) / (2 * den)) as i64
    }

    /// Where a timestamp lands in the output. For a kept frame, its new timestamp; for a time inside
    /// a cut, the time the cut begins at in the output (so the frame before it ends there).
    pub fn out_pts(&self, pts: i64) -> i64 {
        let i = self.index(pts);
        if self.keeps(pts) {
            pts - self.ticks(self.removed_before(i))
        } else {
            // Inside a cut: it collapses to the cut's start.
            self.out_pts_of_frame(self.cut_start(i))
        }
    }

    /// First frame of the cut that removes frame `i`: the end of the last kept part before it.
    fn cut_start(&self, i: u64) -> u64 {
        self.kept
            .iter()
            .rev()
            .find(|s| s.end <= i)
            .map_or(0, |s| s.end)
    }

    /// Output timestamp of the start of cut-list frame `i`.
    fn out_pts_of_frame(&self, i: u64) -> i64 {
        self.first_pts + self.ticks(i) - self.ticks(self.removed_before(i))
    }

    /// Frames the result has.
    pub fn kept_frames(&self) -> u64 {
        self.kept.iter().map(Segment::len).sum()
    }

    /// The same cut for the audio: the kept parts at the kept frames' start times on the source's
    /// container clock (the first part open at the stream's start, the last open at its end).
    pub fn audio_cut(&self) -> AudioCut {
        let at = |i: u64| self.first_seconds + i as f64 * self.rate.1 as f64 / self.rate.0 as f64;
        AudioCut {
            parts: self
                .kept
                .iter()
                .map(|s| {
                    (
                        (s.start > 0).then(|| at(s.start)),
                        (s.end < self.total).then(|| at(s.end)),
                    )
                })
                .collect(),
            output_start: self.first_seconds,
            slower: 1,
        }
    }

    /// Where a moment of the source (seconds on the container clock) lands in the output: times
    /// inside a cut collapse to where the cut begins.
    pub fn out_seconds(&self, seconds: f64) -> f64 {
        let fps = self.rate.0 as f64 / self.rate.1 as f64;
        let f = ((seconds - self.first_seconds) * fps).max(0.0);
        let i = (f.floor() as u64).min(self.total);
        let kept_here = self.kept.iter().any(|s| s.start <= i && i < s.end);
        let frames = if kept_here {
            f - self.removed_before(i) as f64
        } else {
            let start = self.cut_start(i);
            (start - self.removed_before(start)) as f64
        };
        self.first_seconds + frames / fps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edit::{FrameRate, SourceMedia};

    fn timeline(
        rate: FrameRate,
        total: u64,
        kept: &[(u64, u64)],
        first: i64,
        tb: (i32, i32),
    ) -> Timeline {
        let src = SourceMedia::new("x.mp4", rate, total, 64, 64);
        let cut = CutList::new(
            src,
            kept.iter().map(|&(a, b)| Segment::new(a, b)).collect(),
            vec![],
        )
        .expect("cut list");
        Timeline::new(&cut, first, tb)
    }

    #[test]
    fn kept_frames_close_up_the_gaps_on_the_frame_grid() {
        // 25 fps in 1/12800: 512 ticks a frame; the first frame at 1024.
        let t = timeline(
            FrameRate::FPS_25,
            100,
            &[(0, 10), (20, 30), (90, 100)],
            1024,
            (1, 12800),
        );
        let pts = |i: i64| 1024 + i * 512;
        let out: Vec<i64> = (0..100)
            .filter(|&i| t.keeps(pts(i)))
            .map(|i| t.out_pts(pts(i)))
            .collect();
        assert_eq!(out.len(), 30);
        assert_eq!(t.kept_frames(), 30);
        let expect: Vec<i64> = (0..30).map(pts).collect();
        assert_eq!(out, expect);
        // A time inside a cut lands where the cut starts in the output.
        assert_eq!(t.out_pts(pts(15)), pts(10));
        assert_eq!(t.out_pts(pts(50)), pts(20));
    }

    #[test]
    fn ntsc_rates_stay_on_their_ticks() {
        // 30000/1001 in 1/30000: 1001 ticks a frame, none lost to rounding over long cuts.
        let t = timeline(
            FrameRate::FPS_29_97,
            10_000,
            &[(0, 5), (9_000, 10_000)],
            0,
            (1, 30000),
        );
        assert_eq!(t.out_pts(9_000 * 1001), 5 * 1001);
        assert_eq!(t.out_pts(9_999 * 1001), 1004 * 1001);
        // Timestamps a little off the grid (VFR muxing) still find their frame.
        assert!(t.keeps(9_000 * 1001 - 400));
        assert!(!t.keeps(9_000 * 1001 - 600));
    }

    #[test]
    fn chunks_wholly_inside_a_cut_are_found() {
        let t = timeline(FrameRate::FPS_25, 100, &[(0, 10), (50, 100)], 0, (1, 25));
        assert!(t.keeps_any(0, 20));
        assert!(!t.keeps_any(10, 50));
        assert!(!t.keeps_any(20, 30));
        assert!(t.keeps_any(40, 51));
        assert!(t.keeps_any(60, i64::MAX));
        let end = timeline(FrameRate::FPS_25, 100, &[(0, 10)], 0, (1, 25));
        assert!(!end.keeps_any(50, i64::MAX));
    }

    #[test]
    fn audio_is_cut_at_the_same_frame_starts() {
        let t = timeline(FrameRate::FPS_25, 100, &[(0, 10), (50, 100)], 25, (1, 25));
        assert_eq!(
            t.audio_cut().parts,
            vec![(None, Some(1.4)), (Some(3.0), None)]
        );
        assert_eq!(t.audio_cut().output_start, 1.0);
        assert!((t.out_seconds(3.0) - 1.4).abs() < 1e-9);
        assert!((t.out_seconds(2.0) - 1.4).abs() < 1e-9); // inside the cut
        assert!((t.out_seconds(3.5) - 1.9).abs() < 1e-9);
    }
}
