//! Turning per-frame motions into corrections: integrate the camera path, low-pass it (or lock
//! it), and keep the result close enough to the real path that the crop can hide every correction.
//! The path is accumulated in f64 because thousands of frames of f32 steps would drift.

use super::{Correction, Motion};
use crate::kernels::portable;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
pub enum SmoothMode {
    /// Gaussian low-pass of the camera path (sigma = radius/3) over ±`radius_frames`.
    Smooth { radius_frames: usize },
    /// Lock the camera where it was on the first frame.
    Tripod,
}

/// Motions whose confidence is below this are taken as no motion (scene cuts, flat frames), so one
/// bad estimate cannot throw the whole rest of the path off. Low on purpose: handheld footage with
/// motion blur and a moving subject often agrees on only 10–20 % of its features and is still right
/// (0.2 left 9 % of the cockatoo clip's shakes uncorrected; unrelated frames score 0).
pub const MIN_CONFIDENCE: f32 = 0.08;

/// Similarity in f64 for accumulating thousands of frames: `q = e^s·R(a)·p + t` (centred).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
struct Sim {
    x: f64,
    y: f64,
    a: f64,
    s: f64,
}

impl Sim {
    /// `self ∘ inner`: apply `inner` first.
    fn then_after(self, inner: Sim) -> Sim {
        let (sin, cos) = portable::sin_cos(self.a);
        let k = portable::exp(self.s);
        Sim {
            x: k * (cos * inner.x - sin * inner.y) + self.x,
            y: k * (sin * inner.x + cos * inner.y) + self.y,
            a: self.a + inner.a,
            s: self.s + inner.s,
        }
    }

    fn inverse(self) -> Sim {
        let (sin, cos) = portable::sin_cos(-self.a);
        let k = portable::exp(-self.s);
        Sim {
            x: -k * (cos * self.x - sin * self.y),
            y: -k * (sin * self.x + cos * self.y),
            a: -self.a,
            s: -self.s,
        }
    }
}

/// Gaussian smoothing as a local linear fit: identical to the plain weighted mean inside the clip,
/// and at the ends (where the window is one-sided) it follows a pan instead of lagging or drifting.
fn smooth_path(v: &[f64], radius: usize) -> Vec<f64> {
    let n = v.len();
    if radius == 0 || n < 3 {
        return v.to_vec();
    }
    let sigma = radius as f64 / 3.0;
    let wk: Vec<f64> = (0..=radius)
        .map(|k| portable::exp(-((k * k) as f64) / (2.0 * sigma * sigma)))
        .collect();
    (0..n)
        .map(|t| {
            let (mut s0, mut s1, mut s2, mut m0, mut m1) = (0f64, 0f64, 0f64, 0f64, 0f64);
            for (i, &vi) in v
                .iter()
                .enumerate()
                .take((t + radius + 1).min(n))
                .skip(t.saturating_sub(radius))
            {
                let k = i as f64 - t as f64;
                let w = wk[i.abs_diff(t)];
                s0 += w;
                s1 += w * k;
                s2 += w * k * k;
                m0 += w * vi;
                m1 += w * k * vi;
            }
            let det = s0 * s2 - s1 * s1;
            if det > 1e-9 * s0 * s2 {
                (s2 * m0 - s1 * m1) / det
            } else {
                m0 / s0
            }
        })
        .collect()
}

/// Most rounds of pulling the path into the corridor in [`smooth_within`]. Each round removes only
/// part of the overshoot (the pull is spread over the window, so its peak is lower), which can take
/// a hundred rounds; one costs frames × window, far below the analysis itself.
const CORRIDOR_ROUNDS: usize = 400;

/// Like [`smooth`], but the smoothed path stays within `bound` (x, y pixels) of the real one, so no
/// correction is larger than the crop can hide. Where the camera moves on purpose (a whip pan) a
/// plain low-pass lags it by far more than any crop: the frames around it would show wide borders
/// and the output would jump where they are clamped. Here the overshoot past the corridor is itself
/// smoothed and added back until the path fits, so it follows such moves smoothly; away from them
/// the path is exactly [`smooth`]'s (an unbounded corridor gives `smooth`).
pub fn smooth_within(motions: &[Motion], mode: SmoothMode, bound: (f32, f32)) -> Vec<Correction> {
    let path = camera_path(motions);
    let (bx, by) = (bound.0.max(0.0) as f64, bound.1.max(0.0) as f64);
    let corridor = |real: &[f64], b: f64, radius: Option<usize>| -> Vec<f64> {
        let clamp = |v: &[f64]| -> Vec<f64> {
            v.iter()
                .zip(real)
                .map(|(s, r)| s.clamp(r - b, r + b))
                .collect()
        };
        let Some(radius) = radius else {
            return clamp(&vec![0.0; real.len()]);
        };
        let base = smooth_path(real, radius);
        // The pull accumulated so far, spread over the window before it is added.
        let mut pull = vec![0.0; real.len()];
        let mut s = clamp(&base);
        for _ in 0..CORRIDOR_ROUNDS {
            let free: Vec<f64> = base
                .iter()
                .zip(smooth_path(&pull, radius))
                .map(|(b, p)| b + p)
                .collect();
            s = clamp(&free);
            let mut moved = false;
            for ((p, c), f) in pull.iter_mut().zip(&s).zip(&free) {
                if (c - f).abs() > 1e-9 {
                    *p += c - f;
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        s
    };
    let radius = match mode {
        SmoothMode::Tripod => None,
        SmoothMode::Smooth { radius_frames } => Some(radius_frames),
    };
    let comp = |f: fn(&Sim) -> f64| path.iter().map(f).collect::<Vec<_>>();
    let x = corridor(&comp(|p| p.x), bx, radius);
    let y = corridor(&comp(|p| p.y), by, radius);
    let (a, s) = match radius {
        None => (vec![0.0; path.len()], vec![0.0; path.len()]),
        Some(r) => (
            smooth_path(&comp(|p| p.a), r),
            smooth_path(&comp(|p| p.s), r),
        ),
    };
    let target: Vec<Sim> = (0..path.len())
        .map(|i| Sim {
            x: x[i],
            y: y[i],
            a: a[i],
            s: s[i],
        })
        .collect();
    corrections(&path, &target)
}

/// The camera's position at every frame: the motions accumulated from frame 0 (the origin; its
/// motion is ignored), those under [`MIN_CONFIDENCE`] counted as still.
fn camera_path(motions: &[Motion]) -> Vec<Sim> {
    let mut path = Vec::with_capacity(motions.len());
    let mut cur = Sim::default();
    for (t, m) in motions.iter().enumerate() {
        if t > 0 && m.confidence >= MIN_CONFIDENCE {
            let step = Sim {
                x: m.dx as f64,
                y: m.dy as f64,
                a: m.angle as f64,
                s: m.scale as f64,
            };
            cur = step.then_after(cur);
        }
        path.push(cur);
    }
    path
}

/// Per frame, the transform from the real camera position to the target one.
fn corrections(path: &[Sim], target: &[Sim]) -> Vec<Correction> {
    path.iter()
        .zip(target)
        .map(|(p, t)| {
            let c = t.then_after(p.inverse());
            Correction {
                dx: c.x as f32,
                dy: c.y as f32,
                angle: c.a as f32,
                scale: c.s as f32,
            }
        })
        .collect()
}

/// Integrates frame-to-frame motions into the camera path, smooths it, and returns per frame the
/// correction from the actual to the smoothed position. `motions[0]` is ignored (frame 0 is the
/// origin); motions under [`MIN_CONFIDENCE`] count as still.
pub fn smooth(motions: &[Motion], mode: SmoothMode) -> Vec<Correction> {
    smooth_within(motions, mode, (f32::INFINITY, f32::INFINITY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::motion::tests::Lcg;

    fn sim(c: Correction) -> Sim {
        Sim {
            x: c.dx as f64,
            y: c.dy as f64,
            a: c.angle as f64,
            s: c.scale as f64,
        }
    }

    /// Motions of a camera at `poses` (pose t maps frame-0 coordinates to frame-t coordinates).
    fn motions_of(poses: &[Sim]) -> Vec<Motion> {
        let mut out = vec![Motion::default()];
        for t in 1..poses.len() {
            let m = poses[t].then_after(poses[t - 1].inverse());
            out.push(Motion {
                dx: m.x as f32,
                dy: m.y as f32,
                angle: m.a as f32,
                scale: m.s as f32,
                confidence: 1.0,
            });
        }
        out
    }

    fn std(v: impl Iterator<Item = f64> + Clone) -> f64 {
        let n = v.clone().count() as f64;
        let mean = v.clone().sum::<f64>() / n;
        (v.map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt()
    }

    fn jitter(n: usize, seed: u64) -> Vec<Sim> {
        let mut rng = Lcg(seed);
        let mut poses: Vec<Sim> = (0..n)
            .map(|_| Sim {
                x: rng.range(-10.0, 10.0) as f64,
                y: rng.range(-10.0, 10.0) as f64,
                a: rng.range(-0.02, 0.02) as f64,
                s: 0.0,
            })
            .collect();
        // Frame 0 is the origin of the integrated path.
        let p0 = poses[0].inverse();
        for p in &mut poses {
            *p = p.then_after(p0);
        }
        poses
    }

    #[test]
    fn smoothing_cancels_jitter() {
        let poses = jitter(3000, 3);
        let corr = smooth(
            &motions_of(&poses),
            SmoothMode::Smooth { radius_frames: 200 },
        );
        assert_eq!(corr.len(), poses.len());
        let fixed: Vec<Sim> = corr
            .iter()
            .zip(&poses)
            .map(|(c, p)| sim(*c).then_after(*p))
            .collect();
        for (get, name) in [
            (Box::new(|s: &Sim| s.x) as Box<dyn Fn(&Sim) -> f64>, "x"),
            (Box::new(|s: &Sim| s.y), "y"),
            (Box::new(|s: &Sim| s.a), "angle"),
        ] {
            let before = std(poses.iter().map(&get));
            let after = std(fixed.iter().map(&get));
            assert!(after < 0.1 * before, "{name}: {after} vs {before}");
        }
    }

    #[test]
    fn tripod_is_exactly_still() {
        let mut rng = Lcg(11);
        let mut poses = vec![Sim::default()];
        for _ in 1..300 {
            let step = Sim {
                x: rng.range(-3.0, 3.0) as f64,
                y: rng.range(-3.0, 3.0) as f64,
                a: rng.range(-0.01, 0.01) as f64,
                s: rng.range(-0.002, 0.002) as f64,
            };
            let next = step.then_after(*poses.last().unwrap());
            poses.push(next);
        }
        let corr = smooth(&motions_of(&poses), SmoothMode::Tripod);
        for (c, p) in corr.iter().zip(&poses) {
            let f = sim(*c).then_after(*p);
            assert!(
                f.x.abs() < 1e-2 && f.y.abs() < 1e-2 && f.a.abs() < 1e-6 && f.s.abs() < 1e-6,
                "{f:?}"
            );
        }
    }

    #[test]
    fn pan_is_kept_to_the_ends() {
        let poses: Vec<Sim> = (0..200)
            .map(|t| Sim {
                x: 4.0 * t as f64,
                y: -1.5 * t as f64,
                ..Sim::default()
            })
            .collect();
        let corr = smooth(
            &motions_of(&poses),
            SmoothMode::Smooth { radius_frames: 30 },
        );
        for c in &corr {
            assert!(c.dx.abs() < 1e-2 && c.dy.abs() < 1e-2, "{c:?}");
        }
        let none = smooth(&motions_of(&poses), SmoothMode::Smooth { radius_frames: 0 });
        assert!(none.iter().all(|c| c.dx.abs() < 1e-3 && c.dy.abs() < 1e-3));
        assert!(smooth(&[], SmoothMode::Tripod).is_empty());
    }

    #[test]
    fn a_whip_pan_is_followed_within_the_bound_and_shake_still_removed() {
        // ±6 px shake, and a 240 px move right in 3 frames at frame 100.
        let poses: Vec<Sim> = (0..200)
            .map(|t| Sim {
                x: 6.0 * (t as f64 * 2.3).sin() + 80.0 * (t as f64 - 99.0).clamp(0.0, 3.0),
                y: 6.0 * (t as f64 * 1.7).cos(),
                ..Sim::default()
            })
            .collect();
        let mode = SmoothMode::Smooth { radius_frames: 20 };
        let free = smooth(&motions_of(&poses), mode);
        assert!(
            free.iter().any(|c| c.dx.abs() > 100.0),
            "a plain low-pass lags far"
        );
        let bounded = smooth_within(&motions_of(&poses), mode, (50.0, 50.0));
        assert!(bounded
            .iter()
            .all(|c| c.dx.abs() <= 50.01 && c.dy.abs() <= 50.01));
        // What is seen: the pose after correction. Its frame-to-frame steps away from the pan are
        // far below the shake's, and the pan itself is spread, never a step above the raw one.
        let seen: Vec<f64> = poses
            .iter()
            .zip(&bounded)
            .map(|(p, c)| p.x + c.dx as f64)
            .collect();
        let steps: Vec<f64> = seen.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
        let calm = steps[20..80].iter().cloned().fold(0.0, f64::max);
        assert!(calm < 3.0, "shake left: {calm}");
        assert!(steps.iter().all(|s| *s <= 81.0), "{steps:?}");
        // Where nothing reaches the bound, the bound changes nothing: the path is the plain one.
        let shake = motions_of(&poses[..90]);
        assert_eq!(
            smooth_within(&shake, mode, (50.0, 50.0)),
            smooth(&shake, mode)
        );
    }

    #[test]
    fn low_confidence_motion_counts_as_still() {
        let mut m = vec![Motion::default(); 3];
        m[1] = Motion {
            dx: 500.0,
            confidence: 0.05,
            ..Motion::default()
        };
        let c = smooth(&m, SmoothMode::Tripod);
        assert!(c.iter().all(|c| *c == Correction::default()), "{c:?}");
    }
}
