//! The `interpolate` stage: output frames on a constant-rate grid (the [`Clock`]) between the
//! source's frames, made by RIFE where the picture moves, copied where a source frame falls on the
//! grid, and repeated (or cross-faded) across scene cuts and between duplicated source frames.
//!
//! The grid is fixed once per job from the whole stream (its first and last timestamps), so every
//! chunk, node and resume puts frames at the same instants: a chunk owns the grid points in
//! `[start, end)` of its source frames, and needs only the source frame after its end.

use super::{Margin, Stage, StageError, Timed};
use crate::models::interp::RifeNet;
use crate::models::rgb::{from_planar, to_planar};
use crate::models::Config;
use kino_shared::{AtCut, Frame, InterpolateParams, Samples};
use serde::{Deserialize, Serialize};

/// The output's clock: a time base every source timestamp and every grid point is a whole number
/// of ticks of, and the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Output time base `[1, D]`.
    pub time_base: [i32; 2],
    /// Output ticks per source tick.
    pub mul: i64,
    /// The first grid point: the source's first frame (output ticks).
    pub origin: i64,
    /// Grid step (output ticks).
    pub step: i64,
    /// The source's last frame and the stream's end (output ticks).
    pub last: i64,
    pub end: i64,
    /// The source's nominal frame duration (output ticks).
    pub source_step: i64,
    /// Slow motion: the output's time runs this many times slower (1 otherwise).
    pub stretch: i64,
    /// Frames per second the output file is tagged with.
    pub frame_rate: [i32; 2],
    /// Whether frames are made between the source's (the grid is finer than the source's rate);
    /// otherwise frames are only dropped or repeated.
    pub interpolates: bool,
}

/// Why a clock cannot be made.
#[derive(Debug, thiserror::Error)]
#[error("interpolate: {0}")]
pub struct ClockError(String);

impl Clock {
    /// The clock for `p` on a stream of time base `tb`, average rate `avg`, whose frames run from
    /// `first` to `last` and which ends at `end` (source ticks).
    pub fn new(
        p: &InterpolateParams,
        tb: [i32; 2],
        avg: [i32; 2],
        (first, last, end): (i64, i64, i64),
    ) -> Result<Clock, ClockError> {
        if tb[0] <= 0 || tb[1] <= 0 || avg[0] <= 0 || avg[1] <= 0 {
            return Err(ClockError(format!(
                "the source has no usable frame rate (time base {}/{}, rate {}/{})",
                tb[0], tb[1], avg[0], avg[1]
            )));
        }
        let grid = grid_rate(p, avg);
        let rate = p.output_rate(avg);
        let (n, d) = (tb[0] as i64, tb[1] as i64);
        // D: a multiple of the source's denominator and of the grid rate's numerator.
        let den = lcm(d, grid[0] as i64);
        let den = i32::try_from(den)
            .map_err(|_| ClockError(format!("no common time base for 1/{d} and {grid:?} fps")))?
            as i64;
        let mul = n * (den / d);
        let step = den * grid[1] as i64 / grid[0] as i64;
        let source_step = (den * avg[1] as i64 / avg[0] as i64).max(1);
        Ok(Clock {
            time_base: [1, den as i32],
            mul,
            origin: first.saturating_mul(mul),
            step: step.max(1),
            last: last.saturating_mul(mul),
            end: end.saturating_mul(mul),
            source_step,
            stretch: p.stretch() as i64,
            frame_rate: rate,
            // Finer than the source: the grid step is under the source's frame duration.
            interpolates: (grid[0] as i64) * (avg[1] as i64) > (avg[0] as i64) * (grid[1] as i64),
        })
    }

    /// A source timestamp in output ticks (the open ends of a chunk stay open).
    pub fn ticks(&self, pts: i64) -> i64 {
        match pts {
            i64::MIN | i64::MAX => pts,
            p => p.saturating_mul(self.mul),
        }
    }

    /// The first grid point at or after `t`.
    pub fn at_or_after(&self, t: i64) -> i64 {
        if t <= self.origin {
            return self.origin;
        }
        let k = (t - self.origin + self.step - 1) / self.step;
        self.origin + k * self.step
    }

    /// Grid points in `[start, end)` (output ticks, before any stretch), within the stream.
    pub fn count(&self, start: i64, end: i64) -> u64 {
        let end = end.min(self.end);
        let first = self.at_or_after(start);
        if first >= end {
            return 0;
        }
        ((end - first + self.step - 1) / self.step) as u64
    }

    /// Where a grid instant lands in the output (slow motion spreads them out).
    pub fn stretched(&self, t: i64) -> i64 {
        match t {
            i64::MIN | i64::MAX => t,
            t => self.origin + (t - self.origin) * self.stretch,
        }
    }
}

/// Frames per second of the grid in source time: the output rate, or for slow motion the source's
/// times the factor.
fn grid_rate(p: &InterpolateParams, avg: [i32; 2]) -> [i32; 2] {
    let r = p.output_rate(avg);
    let s = p.stretch() as i64;
    let (num, den) = (r[0] as i64 * s, r[1] as i64);
    let g = kino_shared::gcd(num, den).max(1);
    [(num / g) as i32, (den / g) as i32]
}

fn lcm(a: i64, b: i64) -> i64 {
    a / kino_shared::gcd(a, b).max(1) * b
}

/// The stage. `cuts` are the timestamps (output ticks) of frames that start a scene, or start or
/// end a dissolve or fade: no frame is invented in the interval before them.
pub struct Interpolate {
    params: InterpolateParams,
    clock: Clock,
    cuts: Vec<i64>,
    threads: usize,
    net: Option<RifeNet>,
    /// The two pictures of the last pair, as the network takes them (reused for every in-between
    /// frame of the pair).
    pair: Option<(i64, Vec<f32>, i64, Vec<f32>)>,
}

impl Interpolate {
    pub fn new(
        params: InterpolateParams,
        clock: Clock,
        mut cuts: Vec<i64>,
        threads: usize,
    ) -> Self {
        cuts.sort_unstable();
        Interpolate {
            params,
            clock,
            cuts,
            threads,
            net: None,
            pair: None,
        }
    }

    fn failed(e: impl std::fmt::Display) -> StageError {
        StageError::Failed {
            stage: "interpolate",
            message: e.to_string(),
        }
    }

    /// The network's picture at `s` (0…1) between `a` (at `pa`) and `b` (at `pb`).
    fn invent(
        &mut self,
        (pa, a): (i64, &Frame),
        (pb, b): (i64, &Frame),
        s: f32,
    ) -> Result<Frame, StageError> {
        if self.net.is_none() {
            let cfg = Config::from_env().map_err(Self::failed)?;
            let net = RifeNet::open(&cfg, a.width, a.height, self.threads).map_err(Self::failed)?;
            self.net = Some(net);
        }
        if !matches!(&self.pair, Some((x, _, y, _)) if (*x, *y) == (pa, pb)) {
            self.pair = Some((pa, to_planar(a), pb, to_planar(b)));
        }
        let (Some(net), Some((_, ra, _, rb))) = (self.net.as_mut(), self.pair.as_ref()) else {
            return Err(Self::failed("the network is not loaded"));
        };
        let out = net
            .interpolate(a.width, a.height, ra.clone(), rb.clone(), s)
            .map_err(Self::failed)?;
        Ok(from_planar(&out, a))
    }
}

/// The picture at `t` (0…1) between two frames, as a job makes it between two frames of one scene
/// (the preview's in-between frame).
pub fn between(a: &Frame, b: &Frame, t: f32) -> Result<Frame, StageError> {
    if (a.width, a.height, a.layout) != (b.width, b.height, b.layout) {
        return Err(Interpolate::failed(
            "the two frames differ in size or layout",
        ));
    }
    if duplicate(a, b) {
        return Ok(a.clone());
    }
    let cfg = Config::from_env().map_err(Interpolate::failed)?;
    let mut net = RifeNet::open(&cfg, a.width, a.height, 0).map_err(Interpolate::failed)?;
    let out = net
        .interpolate(a.width, a.height, to_planar(a), to_planar(b), t)
        .map_err(Interpolate::failed)?;
    Ok(from_planar(&out, a))
}

/// Whether two frames show the same picture (a duplicated frame of animation or a screen
/// capture): luma differs by more than 12 levels (of 255) nowhere but in a few stray pixels, and
/// by under 1.5 on average (compression noise).
pub fn duplicate(a: &Frame, b: &Frame) -> bool {
    let (pa, pb) = (&a.planes[0], &b.planes[0]);
    if (pa.width, pa.height) != (pb.width, pb.height) {
        return false;
    }
    let shift = a.bit_depth.saturating_sub(8) as u32;
    let diffs: Box<dyn Iterator<Item = u32>> = match (&pa.samples, &pb.samples) {
        (Samples::U8(x), Samples::U8(y)) => {
            Box::new(x.iter().zip(y).map(|(&p, &q)| p.abs_diff(q) as u32))
        }
        (Samples::U16(x), Samples::U16(y)) => Box::new(
            x.iter()
                .zip(y)
                .map(move |(&p, &q)| (p.abs_diff(q) >> shift) as u32),
        ),
        _ => return false,
    };
    let (mut sum, mut big, mut n) = (0u64, 0u64, 0u64);
    for d in diffs {
        sum += d as u64;
        big += u64::from(d > 12);
        n += 1;
    }
    n > 0 && (sum as f64 / n as f64) < 1.5 && big * 2000 <= n
}

/// `(1 − s)·a + s·b`, sample by sample.
fn cross_fade(a: &Frame, b: &Frame, s: f32) -> Frame {
    let mut out = a.clone();
    let max = a.max_value() as f32;
    for (p, q) in out.planes.iter_mut().zip(&b.planes) {
        let (x, y) = (p.to_f32(), q.to_f32());
        p.set_from_f32(x.iter().zip(&y).map(|(u, v)| u + (v - u) * s), max);
    }
    out
}

impl Stage for Interpolate {
    fn name(&self) -> &'static str {
        "interpolate"
    }
    fn margin(&self) -> Margin {
        Margin {
            before: 0,
            after: 1,
        }
    }
    fn retimes(&self) -> bool {
        true
    }
    fn process(&mut self, window: &[&Frame], current: usize, _: i64) -> Result<Frame, StageError> {
        Ok(window[current].clone())
    }

    fn produce(
        &mut self,
        window: &[&Frame],
        current: usize,
        pts: i64,
        next: Option<i64>,
    ) -> Result<Vec<Timed>, StageError> {
        let c = self.clock;
        let a = window[current];
        let b = window.get(current + 1).filter(|_| next.is_some());
        // Without a next frame: the stream's last frame lasts to its end; any other (the frame
        // after a chunk, whose grid points belong to the next chunk) one nominal frame.
        let upper = match next {
            Some(n) => n,
            None if pts >= c.last => c.end,
            None => pts + c.source_step,
        };
        let mut out = Vec::new();
        let mut t = c.at_or_after(pts);
        // What the pair is (across a cut, a duplicate) is decided once, for all its grid points.
        let across_cut = next.is_some_and(|pb| self.cuts.binary_search(&pb).is_ok());
        let mut same: Option<bool> = None;
        while t < upper {
            let frame = match (next, b) {
                (Some(pb), Some(b)) if t != pts && c.interpolates => {
                    let s = (t - pts) as f32 / (pb - pts) as f32;
                    if across_cut {
                        match self.params.at_cut {
                            AtCut::Repeat => a.clone(),
                            AtCut::Blend => cross_fade(a, b, s),
                        }
                    } else if *same.get_or_insert_with(|| duplicate(a, b)) {
                        a.clone()
                    } else {
                        self.invent((pts, a), (pb, b), s)?
                    }
                }
                _ => a.clone(),
            };
            out.push((t, frame));
            t += c.step;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kino_shared::InterpMode;

    fn params(fps: Option<f64>, factor: Option<u32>, mode: InterpMode) -> InterpolateParams {
        InterpolateParams {
            fps,
            factor,
            mode,
            ..Default::default()
        }
    }

    #[test]
    fn grid_of_24_to_60_is_exact_in_a_common_time_base() {
        // 48 frames of 1/24 s in MP4's 1/12800.
        let p = params(Some(60.0), None, InterpMode::Smooth);
        let c = Clock::new(&p, [1, 12800], [24, 1], (0, 47 * 533, 48 * 533)).unwrap();
        assert_eq!(c.time_base, [1, 38400]);
        assert_eq!(c.step, 640);
        assert!(c.interpolates);
        assert_eq!(c.frame_rate, [60, 1]);
        let whole = Clock::new(&p, [1, 24], [24, 1], (0, 47, 48)).unwrap();
        assert_eq!(whole.count(i64::MIN, i64::MAX), 120);
    }

    #[test]
    fn ntsc_rates_and_slow_motion() {
        let p = params(Some(59.94), None, InterpMode::Smooth);
        let c = Clock::new(&p, [1, 30000], [30000, 1001], (0, 1001 * 9, 1001 * 10)).unwrap();
        assert_eq!(c.frame_rate, [60000, 1001]);
        assert_eq!(c.count(i64::MIN, i64::MAX), 20);
        let slow = params(None, Some(4), InterpMode::Slowmo);
        let c = Clock::new(&slow, [1, 25], [25, 1], (0, 9, 10)).unwrap();
        assert_eq!((c.frame_rate, c.stretch), ([25, 1], 4));
        assert_eq!(c.count(i64::MIN, i64::MAX), 40);
        assert_eq!(c.stretched(c.origin + c.step), c.origin + c.step * 4);
        // A lower rate drops frames, and invents none.
        let down = params(Some(12.0), None, InterpMode::Smooth);
        let c = Clock::new(&down, [1, 24], [24, 1], (0, 47, 48)).unwrap();
        assert!(!c.interpolates);
        assert_eq!(c.count(i64::MIN, i64::MAX), 24);
    }
}
