//! The encoder's own loss on one chunk: frames handed to the encoder are sampled as they pass (a
//! bounded, evenly spaced set whose stride doubles as the chunk grows, so memory stays flat), and
//! once the chunk is written it is decoded and each sampled frame scored against its encode.

use super::compare::{frame_quality, reshape};
use super::convert::to_frame;
use super::decode::FrameSource;
use super::ffmpeg;
use super::{MediaError, Result};
use ffmpeg::util::frame::Video as AvFrame;
use kino_shared::{Frame, FrameQuality};
use std::path::Path;
use std::time::{Duration, Instant};

/// Share of the chunk's render time the measurement may take: decoding stops there once a few
/// frames are scored (so a fast render is measured on its first stretch only).
const BUDGET: f64 = 0.05;
/// Sampled frames are held up to about this many pixels (24 at 1080p, 6 at 4K).
const HELD_PIXELS: usize = 50_000_000;
const MOST: usize = 24;
const LEAST: usize = 4;

/// Frames kept for scoring: `(index in the chunk, seconds on the output's clock, frame)`.
pub struct LossSampler {
    cap: usize,
    every: usize,
    seen: usize,
    seconds_per_tick: f64,
    kept: Vec<(usize, f64, Frame)>,
    /// Time spent copying samples so far.
    spent: Duration,
    /// When the chunk's first frame arrived.
    born: Instant,
}

impl LossSampler {
    /// For frames of `width`×`height` timed in `time_base`.
    pub fn new(width: u32, height: u32, time_base: ffmpeg::Rational) -> LossSampler {
        let pixels = (width as usize * height as usize).max(1);
        LossSampler {
            cap: (HELD_PIXELS / pixels).clamp(LEAST, MOST),
            every: 1,
            seen: 0,
            seconds_per_tick: f64::from(time_base.numerator())
                / f64::from(time_base.denominator().max(1)),
            kept: Vec::new(),
            spent: Duration::ZERO,
            born: Instant::now(),
        }
    }

    /// The frame the encoder is given next (every frame of the chunk, in order).
    pub fn offer(&mut self, frame: &AvFrame, pts: i64) -> Result<()> {
        let i = self.seen;
        self.seen += 1;
        if !i.is_multiple_of(self.every) {
            return Ok(());
        }
        if self.kept.len() >= self.cap {
            self.every *= 2;
            let every = self.every;
            self.kept.retain(|(k, _, _)| k.is_multiple_of(every));
            if !i.is_multiple_of(every) {
                return Ok(());
            }
        }
        let started = Instant::now();
        self.kept
            .push((i, pts as f64 * self.seconds_per_tick, to_frame(frame)?));
        self.spent += started.elapsed();
        Ok(())
    }

    /// Decodes the encoded chunk `file` and scores the sampled frames (PSNR and SSIM as the job's
    /// comparison computes them), with the seconds sampling and measuring took. Stops at the time
    /// budget once [`LEAST`] frames are scored.
    pub fn measure(self, file: &Path) -> Result<(Vec<FrameQuality>, f64)> {
        let started = Instant::now();
        let budget = self.born.elapsed().mul_f64(BUDGET);
        let Some(last) = self.kept.last().map(|k| k.0) else {
            return Ok((Vec::new(), 0.0));
        };
        let mut decoded = FrameSource::open(file, i64::MIN, 1)?;
        let mut wanted = self.kept.into_iter().peekable();
        let mut out = Vec::new();
        for i in 0..=last {
            if out.len() >= LEAST && self.spent + started.elapsed() > budget {
                break;
            }
            let (_, d) = decoded.next_frame()?.ok_or_else(|| {
                MediaError::Decode(format!("the encoded chunk ends before its frame {i}"))
            })?;
            let Some((k, time, reference)) = wanted.next_if(|w| w.0 == i) else {
                continue;
            };
            debug_assert_eq!(k, i);
            let encoded = reshape(&to_frame(&d)?, &reference);
            let m = kino_shared::kernels::metrics::compare(&reference, &encoded)
                .map_err(|e| MediaError::Compare(e.to_string()))?;
            out.push(frame_quality(time, &m, None));
        }
        Ok((out, (self.spent + started.elapsed()).as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_stays_bounded_and_evenly_spaced() {
        ffmpeg::init().ok();
        let mut s = LossSampler::new(1920, 1080, ffmpeg::Rational::new(1, 25));
        let mut f = AvFrame::new(ffmpeg::format::Pixel::YUV420P, 16, 16);
        for i in 0..100 {
            f.set_pts(Some(i));
            s.offer(&f, i).unwrap();
        }
        let idx: Vec<usize> = s.kept.iter().map(|k| k.0).collect();
        assert!(idx.len() <= 24 && idx.len() >= 12, "{idx:?}");
        assert!(idx.windows(2).all(|w| w[1] - w[0] == s.every), "{idx:?}");
        assert_eq!(s.kept[1].1, s.every as f64 / 25.0);
    }
}
