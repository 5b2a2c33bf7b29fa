//! Full-reference picture metrics computed the way FFmpeg's `psnr` and `ssim` filters compute them,
//! so a figure in a Kino report means what the same figure from `ffmpeg -lavfi psnr` means: PSNR
//! from the mean squared error per plane (and of the planes weighted by their sample counts), and
//! SSIM over 8×8 windows every 4 samples from 4×4 block sums (no Gaussian weights).

use super::Sample;
use crate::frame::{Frame, Plane, Samples};

/// What two frames cannot be compared for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricError {
    #[error("frames differ in size, layout or depth ({0} against {1}); resize first")]
    Mismatch(String, String),
}

/// The metrics of one pair of frames, per plane (Y, U, V; Y alone for grey video).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameMetrics {
    pub planes: usize,
    pub mse: [f64; 3],
    /// `None` for a plane smaller than 8×8 (no SSIM window fits).
    pub ssim: [Option<f64>; 3],
    /// Each plane's share of all samples (FFmpeg's weights for the averaged figures).
    pub weights: [f64; 3],
    /// The largest code value (255 for 8-bit video).
    pub max: u32,
}

/// PSNR in dB of a mean squared error; infinite for identical pictures.
pub fn psnr(mse: f64, max: u32) -> f64 {
    if mse <= 0.0 {
        return f64::INFINITY;
    }
    10.0 * ((max as f64 * max as f64) / mse).log10()
}

impl FrameMetrics {
    pub fn psnr(&self, plane: usize) -> f64 {
        psnr(self.mse[plane], self.max)
    }
    /// The planes' squared errors weighted by their sample counts.
    pub fn weighted_mse(&self) -> f64 {
        (0..self.planes)
            .map(|i| self.mse[i] * self.weights[i])
            .sum()
    }
    pub fn psnr_weighted(&self) -> f64 {
        psnr(self.weighted_mse(), self.max)
    }
    /// SSIM of all planes weighted by their sample counts (FFmpeg's "All").
    pub fn ssim_all(&self) -> Option<f64> {
        (0..self.planes)
            .map(|i| self.ssim[i].map(|s| s * self.weights[i]))
            .sum()
    }
}

/// Compares `a` with `b` (the same size, layout and depth).
pub fn compare(a: &Frame, b: &Frame) -> Result<FrameMetrics, MetricError> {
    let shape = |f: &Frame| {
        format!(
            "{}x{} {:?} {}-bit",
            f.width, f.height, f.layout, f.bit_depth
        )
    };
    if (a.width, a.height, a.layout, a.bit_depth) != (b.width, b.height, b.layout, b.bit_depth) {
        return Err(MetricError::Mismatch(shape(a), shape(b)));
    }
    let max = a.max_value();
    let planes = a.planes.len().min(3);
    let total: usize = a.planes[..planes].iter().map(|p| p.width * p.height).sum();
    let mut m = FrameMetrics {
        planes,
        mse: [0.0; 3],
        ssim: [None; 3],
        weights: [0.0; 3],
        max,
    };
    for i in 0..planes {
        let (p, q) = (&a.planes[i], &b.planes[i]);
        let n = (p.width * p.height) as f64;
        m.weights[i] = n / total.max(1) as f64;
        let (sse, ssim) = match (&p.samples, &q.samples) {
            (Samples::U8(x), Samples::U8(y)) => (sse(x, y), ssim_plane(x, y, p, max)),
            (Samples::U16(x), Samples::U16(y)) => (sse(x, y), ssim_plane(x, y, p, max)),
            _ => return Err(MetricError::Mismatch(shape(a), shape(b))),
        };
        m.mse[i] = sse as f64 / n.max(1.0);
        m.ssim[i] = ssim;
    }
    Ok(m)
}

fn sse<T: Sample>(a: &[T], b: &[T]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x.to_u32() as i64 - y.to_u32() as i64;
            (d * d) as u64
        })
        .sum()
}

/// Sums over one row of 4×4 blocks: Σa, Σb, Σa²+Σb², Σab.
fn block_row<T: Sample>(
    a: &[T],
    b: &[T],
    width: usize,
    row: usize,
    blocks: usize,
) -> Vec<[i64; 4]> {
    (0..blocks)
        .map(|bx| {
            let mut s = [0i64; 4];
            for y in row * 4..row * 4 + 4 {
                for x in bx * 4..bx * 4 + 4 {
                    let (p, q) = (
                        a[y * width + x].to_u32() as i64,
                        b[y * width + x].to_u32() as i64,
                    );
                    s[0] += p;
                    s[1] += q;
                    s[2] += p * p + q * q;
                    s[3] += p * q;
                }
            }
            s
        })
        .collect()
}

/// SSIM of an 8×8 window from its sums (FFmpeg's `ssim_end1x`, constants scaled by 64 samples).
fn window_ssim(s: [i64; 4], max: u32) -> f64 {
    let m = max as f64;
    let c1 = (0.01 * 0.01 * m * m * 64.0 + 0.5) as i64;
    let c2 = (0.03 * 0.03 * m * m * 64.0 * 63.0 + 0.5) as i64;
    let [s1, s2, ss, s12] = s;
    let vars = ss * 64 - s1 * s1 - s2 * s2;
    let covar = s12 * 64 - s1 * s2;
    ((2 * s1 * s2 + c1) as f64 * (2 * covar + c2) as f64)
        / ((s1 * s1 + s2 * s2 + c1) as f64 * (vars + c2) as f64)
}

fn ssim_plane<T: Sample>(a: &[T], b: &[T], p: &Plane, max: u32) -> Option<f64> {
    let (bw, bh) = (p.width / 4, p.height / 4);
    if bw < 2 || bh < 2 {
        return None;
    }
    let mut above = block_row(a, b, p.width, 0, bw);
    let mut total = 0.0;
    for row in 1..bh {
        let here = block_row(a, b, p.width, row, bw);
        for i in 0..bw - 1 {
            let mut s = [0i64; 4];
            for (k, v) in s.iter_mut().enumerate() {
                *v = above[i][k] + above[i + 1][k] + here[i][k] + here[i + 1][k];
            }
            total += window_ssim(s, max);
        }
        above = here;
    }
    Some(total / ((bh - 1) * (bw - 1)) as f64)
}

/// Figures over many frames, summed as FFmpeg sums them: PSNR from the mean of the frames'
/// squared errors, SSIM the mean of the frames' SSIM.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    frames: usize,
    planes: usize,
    max: u32,
    mse: [f64; 3],
    weighted: f64,
    ssim: [f64; 3],
    ssim_all: f64,
    ssim_frames: usize,
}

impl Totals {
    pub fn add(&mut self, m: &FrameMetrics) {
        self.frames += 1;
        self.planes = m.planes;
        self.max = m.max;
        for i in 0..m.planes {
            self.mse[i] += m.mse[i];
        }
        self.weighted += m.weighted_mse();
        if let Some(all) = m.ssim_all() {
            self.ssim_frames += 1;
            self.ssim_all += all;
            for i in 0..m.planes {
                self.ssim[i] += m.ssim[i].unwrap_or(0.0);
            }
        }
    }
    pub fn frames(&self) -> usize {
        self.frames
    }
    pub fn planes(&self) -> usize {
        self.planes
    }
    /// PSNR of plane `i` (0 = Y) over the frames.
    pub fn psnr(&self, i: usize) -> f64 {
        psnr(self.mse[i] / self.frames.max(1) as f64, self.max)
    }
    pub fn psnr_weighted(&self) -> f64 {
        psnr(self.weighted / self.frames.max(1) as f64, self.max)
    }
    pub fn ssim(&self, i: usize) -> Option<f64> {
        (self.ssim_frames > 0).then(|| self.ssim[i] / self.ssim_frames as f64)
    }
    pub fn ssim_all(&self) -> Option<f64> {
        (self.ssim_frames > 0).then(|| self.ssim_all / self.ssim_frames as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChromaLayout, ColourInfo};

    fn frame(f: impl Fn(usize, usize) -> u8) -> Frame {
        let mut fr = Frame::new(32, 16, ChromaLayout::Yuv420, 8, ColourInfo::default());
        for p in fr.planes.iter_mut() {
            let w = p.width;
            if let Samples::U8(d) = &mut p.samples {
                for (i, v) in d.iter_mut().enumerate() {
                    *v = f(i % w, i / w);
                }
            }
        }
        fr
    }

    #[test]
    fn identical_frames_are_infinite_psnr_and_unit_ssim() {
        let a = frame(|x, y| (x * 7 + y * 3) as u8);
        let m = compare(&a, &a).unwrap();
        assert!(m.psnr_weighted().is_infinite());
        assert!((m.ssim_all().unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_constant_error_gives_the_textbook_psnr() {
        let a = frame(|x, y| (x * 5 + y * 2 + 40) as u8);
        let b = frame(|x, y| (x * 5 + y * 2 + 44) as u8);
        let m = compare(&a, &b).unwrap();
        // MSE 16 on every plane: 10·log10(255² / 16).
        assert!((m.psnr(0) - 36.0896).abs() < 1e-3, "{}", m.psnr(0));
        assert!((m.psnr_weighted() - m.psnr(2)).abs() < 1e-9);
        // U and V are a quarter of Y each: weights 2/3, 1/6, 1/6.
        assert!((m.weights[0] - 2.0 / 3.0).abs() < 1e-12);
        let s = m.ssim_all().unwrap();
        assert!(s < 1.0 && s > 0.9, "{s}");
        let other = frame(|_, _| 128);
        assert!(compare(&a, &other).unwrap().ssim_all().unwrap() < 0.5);
    }

    #[test]
    fn sizes_must_match() {
        let a = frame(|_, _| 0);
        let b = Frame::new(16, 16, ChromaLayout::Yuv420, 8, ColourInfo::default());
        assert!(matches!(compare(&a, &b), Err(MetricError::Mismatch(..))));
    }
}
