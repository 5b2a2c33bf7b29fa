//! Manual colour adjustment in Y'CbCr through lookup tables: exact, fast, and the same on every target.

use crate::api::ColorParams;
use crate::frame::{Frame, Samples};
use serde::{Deserialize, Serialize};

/// Builds the luma and chroma lookup tables for a frame's depth and range.
fn tables(p: &ColorParams, bit_depth: u8, full_range: bool) -> (Vec<u16>, Vec<u16>) {
    let max = ((1u32 << bit_depth) - 1) as f32;
    let scale = (1u32 << (bit_depth - 8)) as f32;
    let (y_lo, y_hi, c_lo, c_hi) = if full_range {
        (0.0, max, 0.0, max)
    } else {
        (16.0 * scale, 235.0 * scale, 16.0 * scale, 240.0 * scale)
    };
    let mid = 128.0 * scale;
    let n = 1usize << bit_depth;
    let luma = (0..n)
        .map(|v| {
            let t = (v as f32 - y_lo) / (y_hi - y_lo);
            let mut t = ((t - 0.5) * p.contrast + 0.5 + p.brightness).clamp(0.0, 1.0);
            if p.gamma != 1.0 {
                // Portable pow: platform powf differs between targets in the last bit.
                t = super::portable::pow(t as f64, (1.0 / p.gamma) as f64) as f32;
            }
            (y_lo + t * (y_hi - y_lo)).round().clamp(0.0, max) as u16
        })
        .collect();
    let chroma = (0..n)
        .map(|v| {
            ((v as f32 - mid) * p.saturation + mid)
                .round()
                .clamp(c_lo, c_hi) as u16
        })
        .collect();
    (luma, chroma)
}

/// Applies brightness, contrast and gamma to luma and saturation to chroma, in place.
pub fn adjust(frame: &mut Frame, p: &ColorParams) {
    let (luma, chroma) = tables(p, frame.bit_depth, frame.colour.full_range);
    for (i, plane) in frame.planes.iter_mut().enumerate() {
        let lut = if i == 0 { &luma } else { &chroma };
        match &mut plane.samples {
            Samples::U8(d) => d.iter_mut().for_each(|s| *s = lut[*s as usize] as u8),
            Samples::U16(d) => {
                let top = lut.len() - 1;
                d.iter_mut().for_each(|s| *s = lut[(*s as usize).min(top)])
            }
        }
    }
}

/// Per-frame statistics the automatic corrections are computed from (sampled on a sparse grid, so
/// they are cheap enough for an analysis pass over every frame).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FrameStats {
    /// Luma histogram in 64 bins over the legal range (fractions summing to 1).
    pub hist: Vec<f32>,
    /// Mean R', G', B' (0…1) of near-neutral, well-exposed pixels, and their share of the frame.
    pub neutral_rgb: [f32; 3],
    pub neutral_share: f32,
}

/// Y'CbCr → R'G'B' coefficients (Kr, Kb) for the frame's matrix: BT.709 unless tagged BT.601/BT.2020.
fn luma_coefficients(matrix: u8) -> (f32, f32) {
    match matrix {
        5 | 6 => (0.299, 0.114),
        9 | 10 => (0.2627, 0.0593),
        _ => (0.2126, 0.0722),
    }
}

/// Normalises code values to Y in 0…1 and Cb/Cr in −0.5…0.5 for the frame's range and depth.
#[derive(Clone, Copy)]
struct Norm {
    y_lo: f32,
    y_span: f32,
    c_mid: f32,
    c_span: f32,
}

impl Norm {
    fn of(f: &Frame) -> Norm {
        let scale = (1u32 << (f.bit_depth - 8)) as f32;
        if f.colour.full_range {
            let max = f.max_value() as f32;
            Norm {
                y_lo: 0.0,
                y_span: max,
                c_mid: 128.0 * scale,
                c_span: max,
            }
        } else {
            Norm {
                y_lo: 16.0 * scale,
                y_span: 219.0 * scale,
                c_mid: 128.0 * scale,
                c_span: 224.0 * scale,
            }
        }
    }
}

fn sample(p: &crate::frame::Plane, x: usize, y: usize) -> f32 {
    match &p.samples {
        Samples::U8(d) => d[y * p.width + x] as f32,
        Samples::U16(d) => d[y * p.width + x] as f32,
    }
}

/// Measures `frame` on a grid of about 20 000 samples.
pub fn stats(frame: &Frame) -> FrameStats {
    let n = Norm::of(frame);
    let (kr, kb) = luma_coefficients(frame.colour.matrix);
    let kg = 1.0 - kr - kb;
    let (sx, sy) = frame.layout.log2_subsampling();
    let step = ((frame.width * frame.height / 20_000) as f64)
        .sqrt()
        .max(1.0) as usize;
    let mut hist = vec![0f32; 64];
    let (mut rgb, mut wsum, mut count) = ([0f32; 3], 0f32, 0f32);
    let chroma = frame.planes.len() == 3;
    for y in (0..frame.height).step_by(step) {
        for x in (0..frame.width).step_by(step) {
            let yv = ((sample(&frame.planes[0], x, y) - n.y_lo) / n.y_span).clamp(0.0, 1.0);
            hist[((yv * 63.999) as usize).min(63)] += 1.0;
            count += 1.0;
            if !chroma {
                continue;
            }
            let (cx, cy) = (x >> sx, y >> sy);
            let cb = (sample(&frame.planes[1], cx, cy) - n.c_mid) / n.c_span;
            let cr = (sample(&frame.planes[2], cx, cy) - n.c_mid) / n.c_span;
            let r = yv + 2.0 * (1.0 - kr) * cr;
            let b = yv + 2.0 * (1.0 - kb) * cb;
            let g = (yv - kr * r - kb * b) / kg;
            // Near-neutral, neither dark nor clipped: where a colour cast shows and nothing else.
            let chroma_mag = (cb * cb + cr * cr).sqrt();
            if (0.15..0.95).contains(&yv) && chroma_mag < 0.12 {
                let w = 1.0 - chroma_mag / 0.12;
                rgb[0] += w * r;
                rgb[1] += w * g;
                rgb[2] += w * b;
                wsum += w;
            }
        }
    }
    hist.iter_mut().for_each(|h| *h /= count.max(1.0));
    FrameStats {
        hist,
        neutral_rgb: if wsum > 0.0 {
            rgb.map(|v| v / wsum)
        } else {
            [0.0; 3]
        },
        neutral_share: wsum / count.max(1.0),
    }
}

/// L1 distance between two luma histograms (0 same, 2 disjoint): large at scene cuts.
pub fn hist_distance(a: &FrameStats, b: &FrameStats) -> f32 {
    a.hist.iter().zip(&b.hist).map(|(x, y)| (x - y).abs()).sum()
}

/// What the automatic corrections decided for one frame: R'G'B' gains and the luma range to stretch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AutoCorrection {
    pub gains: [f32; 3],
    /// Normalised luma that becomes black and white.
    pub black: f32,
    pub white: f32,
}

impl Default for AutoCorrection {
    fn default() -> Self {
        AutoCorrection {
            gains: [1.0; 3],
            black: 0.0,
            white: 1.0,
        }
    }
}

impl AutoCorrection {
    /// The correction one frame's statistics call for (before smoothing over time).
    pub fn from_stats(s: &FrameStats, p: &ColorParams) -> AutoCorrection {
        let mut c = AutoCorrection::default();
        if p.auto_white_balance && s.neutral_share > 0.02 {
            let [r, g, b] = s.neutral_rgb;
            let grey = (r + g + b) / 3.0;
            if r > 0.01 && g > 0.01 && b > 0.01 {
                c.gains = [grey / r, grey / g, grey / b].map(|v| v.clamp(0.75, 1.33));
            }
        }
        if p.auto_levels && !s.hist.is_empty() {
            let pct = |q: f32| -> f32 {
                let mut acc = 0.0;
                for (i, h) in s.hist.iter().enumerate() {
                    acc += h;
                    if acc >= q {
                        return i as f32 / s.hist.len() as f32;
                    }
                }
                1.0
            };
            // Stretch at most 1.5× and keep the ends plausible: a dark scene stays dark.
            c.black = pct(0.005).min(0.15);
            c.white = (pct(0.995) + 1.0 / s.hist.len() as f32).clamp(0.7, 1.0);
            if c.white - c.black < 1.0 / 1.5 {
                let mid = (c.white + c.black) / 2.0;
                c.black = (mid - 1.0 / 3.0).max(0.0);
                c.white = (c.black + 1.0 / 1.5).min(1.0);
            }
        }
        c
    }

    /// Weighted mean of corrections (for smoothing over time).
    pub fn mean(items: &[(f32, AutoCorrection)]) -> AutoCorrection {
        let total: f32 = items.iter().map(|(w, _)| w).sum();
        if total <= 0.0 {
            return AutoCorrection::default();
        }
        let mut out = AutoCorrection {
            gains: [0.0; 3],
            black: 0.0,
            white: 0.0,
        };
        for (w, c) in items {
            for k in 0..3 {
                out.gains[k] += w * c.gains[k] / total;
            }
            out.black += w * c.black / total;
            out.white += w * c.white / total;
        }
        out
    }
}

/// Applies the full colour stage: white balance, temperature and tint as R'G'B' gains (a linear map,
/// so it is done exactly in Y'CbCr, even on subsampled chroma), then levels/contrast/brightness/gamma
/// on luma and saturation/vibrance on chroma.
pub fn grade(frame: &mut Frame, p: &ColorParams, auto: &AutoCorrection) {
    let mut gains = auto.gains;
    gains[0] *= 1.0 + 0.2 * p.temperature;
    gains[2] *= 1.0 - 0.2 * p.temperature;
    gains[1] *= 1.0 - 0.15 * p.tint;
    if frame.planes.len() == 3 && gains.iter().any(|g| (g - 1.0).abs() > 1e-4) {
        apply_gains(frame, gains);
    }
    let mut q = *p;
    // Levels fold into the contrast/brightness LUT: t' = (t − black) / (white − black).
    let span = (auto.white - auto.black).max(0.05);
    if (span - 1.0).abs() > 1e-4 || auto.black.abs() > 1e-4 {
        // ((t − b)/span − 0.5)·c + 0.5 + br  ==  (t − 0.5)·(c/span) + 0.5 + br + c·((0.5 − b)/span − 0.5)
        q.contrast = p.contrast / span;
        q.brightness = p.brightness + p.contrast * ((0.5 - auto.black) / span - 0.5);
    }
    adjust(frame, &q);
    if p.vibrance != 0.0 && frame.planes.len() == 3 {
        vibrance(frame, p.vibrance);
    }
}

fn apply_gains(frame: &mut Frame, g: [f32; 3]) {
    let n = Norm::of(frame);
    let (kr, kb) = luma_coefficients(frame.colour.matrix);
    let kg = 1.0 - kr - kb;
    // M·diag(g)·M⁻¹ in normalised Y, Cb, Cr.
    let to_rgb = [
        [1.0, 0.0, 2.0 * (1.0 - kr)],
        [
            1.0,
            -2.0 * (1.0 - kb) * kb / kg,
            -2.0 * (1.0 - kr) * kr / kg,
        ],
        [1.0, 2.0 * (1.0 - kb), 0.0],
    ];
    let to_yuv = [
        [kr, kg, kb],
        [-kr / (2.0 * (1.0 - kb)), -kg / (2.0 * (1.0 - kb)), 0.5],
        [0.5, -kg / (2.0 * (1.0 - kr)), -kb / (2.0 * (1.0 - kr))],
    ];
    let mut m = [[0f32; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| to_yuv[i][k] * g[k] * to_rgb[k][j]).sum();
        }
    }
    let (sx, sy) = frame.layout.log2_subsampling();
    let (w, h) = (frame.width, frame.height);
    let (cw, ch) = (frame.planes[1].width, frame.planes[1].height);
    let max = frame.max_value() as f32;
    let yn: Vec<f32> = frame.planes[0]
        .to_f32()
        .into_iter()
        .map(|v| (v - n.y_lo) / n.y_span)
        .collect();
    let cbn: Vec<f32> = frame.planes[1]
        .to_f32()
        .into_iter()
        .map(|v| (v - n.c_mid) / n.c_span)
        .collect();
    let crn: Vec<f32> = frame.planes[2]
        .to_f32()
        .into_iter()
        .map(|v| (v - n.c_mid) / n.c_span)
        .collect();
    // Luma at chroma positions: the mean of the luma samples a chroma sample covers.
    let (bx, by) = (1usize << sx, 1usize << sy);
    let y_at_c: Vec<f32> = (0..cw * ch)
        .map(|i| {
            let (cx, cy) = (i % cw, i / cw);
            let mut s = 0.0;
            let mut k = 0.0;
            for yy in cy * by..((cy + 1) * by).min(h) {
                for xx in cx * bx..((cx + 1) * bx).min(w) {
                    s += yn[yy * w + xx];
                    k += 1.0;
                }
            }
            s / k
        })
        .collect();
    let new_y: Vec<f32> = (0..w * h)
        .map(|i| {
            let c = ((i / w) >> sy) * cw + ((i % w) >> sx);
            m[0][0] * yn[i] + m[0][1] * cbn[c] + m[0][2] * crn[c]
        })
        .collect();
    let new_cb: Vec<f32> = (0..cw * ch)
        .map(|c| m[1][0] * y_at_c[c] + m[1][1] * cbn[c] + m[1][2] * crn[c])
        .collect();
    let new_cr: Vec<f32> = (0..cw * ch)
        .map(|c| m[2][0] * y_at_c[c] + m[2][1] * cbn[c] + m[2][2] * crn[c])
        .collect();
    frame.planes[0].set_from_f32(new_y.iter().map(|v| v * n.y_span + n.y_lo), max);
    frame.planes[1].set_from_f32(new_cb.iter().map(|v| v * n.c_span + n.c_mid), max);
    frame.planes[2].set_from_f32(new_cr.iter().map(|v| v * n.c_span + n.c_mid), max);
}

/// Saturation gain that is largest for dull chroma and fades to 1 for saturated chroma.
fn vibrance(frame: &mut Frame, v: f32) {
    let n = Norm::of(frame);
    let max = frame.max_value() as f32;
    let cb = frame.planes[1].to_f32();
    let cr = frame.planes[2].to_f32();
    let gain: Vec<f32> = cb
        .iter()
        .zip(&cr)
        .map(|(b, r)| {
            let (b, r) = ((b - n.c_mid) / n.c_span, (r - n.c_mid) / n.c_span);
            let sat = ((b * b + r * r).sqrt() / 0.35).min(1.0);
            1.0 + v * (1.0 - sat)
        })
        .collect();
    frame.planes[1].set_from_f32(
        cb.iter()
            .zip(&gain)
            .map(|(c, g)| (c - n.c_mid) * g + n.c_mid),
        max,
    );
    frame.planes[2].set_from_f32(
        cr.iter()
            .zip(&gain)
            .map(|(c, g)| (c - n.c_mid) * g + n.c_mid),
        max,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChromaLayout, ColourInfo};

    #[test]
    fn identity_leaves_frame_unchanged() {
        let mut f = Frame::new(8, 4, ChromaLayout::Yuv420, 8, ColourInfo::default());
        if let Samples::U8(d) = &mut f.planes[0].samples {
            for (i, s) in d.iter_mut().enumerate() {
                *s = (16 + i * 7) as u8;
            }
        }
        let before = f.clone();
        adjust(&mut f, &ColorParams::default());
        assert_eq!(f, before);
    }

    #[test]
    fn zero_saturation_gives_grey_and_brightness_lifts_luma() {
        let mut f = Frame::new(4, 4, ChromaLayout::Yuv444, 10, ColourInfo::default());
        if let Samples::U16(d) = &mut f.planes[1].samples {
            d.iter_mut().for_each(|s| *s = 800);
        }
        adjust(
            &mut f,
            &ColorParams {
                saturation: 0.0,
                brightness: 0.5,
                ..Default::default()
            },
        );
        let Samples::U16(c) = &f.planes[1].samples else {
            panic!()
        };
        assert!(c.iter().all(|&s| s == 512));
        let Samples::U16(y) = &f.planes[0].samples else {
            panic!()
        };
        assert!(y.iter().all(|&s| s == 502), "{:?}", &y[..4]);
    }

    #[test]
    fn white_balance_removes_a_cast_and_keeps_grey_grey() {
        // A grey ramp with a blue cast (Cb raised), 4:2:0.
        let (w, h) = (64, 32);
        let mut f = Frame::new(w, h, ChromaLayout::Yuv420, 8, ColourInfo::default());
        if let Samples::U8(d) = &mut f.planes[0].samples {
            for (i, s) in d.iter_mut().enumerate() {
                *s = (60 + (i % w) * 2) as u8;
            }
        }
        if let Samples::U8(d) = &mut f.planes[1].samples {
            d.iter_mut().for_each(|s| *s = 140);
        }
        let p = ColorParams {
            auto_white_balance: true,
            ..Default::default()
        };
        let st = stats(&f);
        let auto = AutoCorrection::from_stats(&st, &p);
        assert!(auto.gains[2] < 1.0, "{auto:?}");
        grade(&mut f, &p, &auto);
        let after = stats(&f);
        let [r, g, b] = after.neutral_rgb;
        assert!(
            (r - g).abs() < 0.01 && (b - g).abs() < 0.01,
            "{:?}",
            after.neutral_rgb
        );
    }

    #[test]
    fn auto_levels_stretch_a_flat_picture_within_limits() {
        let mut f = Frame::new(32, 32, ChromaLayout::Yuv420, 8, ColourInfo::default());
        if let Samples::U8(d) = &mut f.planes[0].samples {
            for (i, s) in d.iter_mut().enumerate() {
                *s = (80 + (i % 32) * 3) as u8; // 80…173 of 16…235
            }
        }
        let p = ColorParams {
            auto_levels: true,
            ..Default::default()
        };
        let auto = AutoCorrection::from_stats(&stats(&f), &p);
        grade(&mut f, &p, &auto);
        let Samples::U8(d) = &f.planes[0].samples else {
            panic!()
        };
        let (lo, hi) = (*d.iter().min().unwrap(), *d.iter().max().unwrap());
        assert!(lo < 80 && hi > 173, "{lo}..{hi}");
        assert!((hi - lo) as f32 <= 93.0 * 1.5 + 3.0, "{lo}..{hi}");
    }
}
