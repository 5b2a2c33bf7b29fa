//! How far to zoom in so that no correction shows a border. Solved exactly per frame and corner
//! rather than searched, since the source position of each corner is linear in 1/zoom.

use super::Correction;
use crate::kernels::portable;

/// Smallest zoom ≥ 1 (at most `max_zoom`) at which every corrected frame still covers the whole
/// output: each output corner, mapped back through zoom and correction, must land inside the source.
pub fn auto_zoom(corrections: &[Correction], width: usize, height: usize, max_zoom: f32) -> f32 {
    let max_zoom = max_zoom.max(1.0);
    if width < 2 || height < 2 {
        return 1.0;
    }
    let (hx, hy) = ((width as f64 - 1.0) * 0.5, (height as f64 - 1.0) * 0.5);
    // Source point of output corner q at u = 1/zoom: A·(u·q − t), A = e^−s·R(−a). Each coordinate is
    // linear in u, so every bound is solved directly.
    let mut u_max = 1f64;
    for c in corrections {
        let (sin, cos) = portable::sin_cos(-(c.angle as f64));
        let k = portable::exp(-(c.scale as f64));
        let apply = |x: f64, y: f64| (k * (cos * x - sin * y), k * (sin * x + cos * y));
        let b = apply(c.dx as f64, c.dy as f64);
        if b.0.abs() > hx || b.1.abs() > hy {
            return max_zoom;
        }
        for (qx, qy) in [(-hx, -hy), (hx, -hy), (-hx, hy), (hx, hy)] {
            let a = apply(qx, qy);
            for (ai, bi, hi) in [(a.0, b.0, hx), (a.1, b.1, hy)] {
                // Need −hi ≤ u·ai − bi ≤ hi.
                if ai > 1e-12 {
                    u_max = u_max.min((hi + bi) / ai);
                } else if ai < -1e-12 {
                    u_max = u_max.min((bi - hi) / ai);
                }
            }
        }
    }
    if u_max <= 0.0 {
        return max_zoom;
    }
    ((1.0 / u_max) as f32).clamp(1.0, max_zoom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::motion::tests::{H, W};

    #[test]
    fn auto_zoom_grows_with_motion() {
        let zero = vec![Correction::default(); 10];
        assert_eq!(auto_zoom(&zero, W, H, 1.5), 1.0);
        let shift = |dx| {
            let mut v = zero.clone();
            v[4].dx = dx;
            auto_zoom(&v, W, H, 1.5)
        };
        let (z20, z40) = (shift(20.0), shift(40.0));
        assert!(1.0 < z20 && z20 < z40, "{z20} {z40}");
        assert!((z20 - 639.5 / 619.5).abs() < 1e-4, "{z20}");
        assert_eq!(shift(600.0), 1.5);
        let mut rot = zero.clone();
        rot[2].angle = f32::to_radians(2.0);
        let z = auto_zoom(&rot, W, H, 1.5);
        assert!(z > 1.03 && z < 1.1, "{z}");
        // At that zoom the rotated frame's corners really are covered.
        let c = rot[2];
        let (sin, cos) = (-c.angle).sin_cos();
        for (qx, qy) in [
            (-639.5f32, -359.5f32),
            (639.5, -359.5),
            (-639.5, 359.5),
            (639.5, 359.5),
        ] {
            let (x, y) = (qx / z, qy / z);
            let (sx, sy) = (cos * x - sin * y, sin * x + cos * y);
            assert!(sx.abs() <= 639.6 && sy.abs() <= 359.6);
        }
    }
}
