//! Frames to and from the R′G′B′ the networks take: the frame's own matrix, range and depth, chroma
//! read at luma positions with its siting. Shared by super-resolution and detection.

use kino_shared::{Frame, Plane, Samples};

/// Y′CbCr ↔ R′G′B′ for a frame's matrix, range and depth.
pub struct Matrix {
    kr: f32,
    kb: f32,
    y_off: f32,
    y_scale: f32,
    c_off: f32,
    c_scale: f32,
}

impl Matrix {
    pub fn of(f: &Frame) -> Matrix {
        // H.273 matrix code points; unspecified follows the usual SD/HD convention.
        let (kr, kb) = match f.colour.matrix {
            1 => (0.2126, 0.0722),
            5 | 6 => (0.299, 0.114),
            9 | 10 => (0.2627, 0.0593),
            _ if f.height >= 720 => (0.2126, 0.0722),
            _ => (0.299, 0.114),
        };
        let k = (1u32 << (f.bit_depth - 8)) as f32;
        let max = f.max_value() as f32;
        let (y_off, y_scale, c_scale) = if f.colour.full_range {
            (0.0, max, max)
        } else {
            (16.0 * k, 219.0 * k, 224.0 * k)
        };
        Matrix {
            kr,
            kb,
            y_off,
            y_scale,
            c_off: 128.0 * k,
            c_scale,
        }
    }

    /// The chroma value of grey.
    pub fn neutral(&self) -> f32 {
        self.c_off
    }

    pub fn to_rgb(&self, y: f32, u: f32, v: f32) -> [f32; 3] {
        let y = (y - self.y_off) / self.y_scale;
        let (cb, cr) = (
            (u - self.c_off) / self.c_scale,
            (v - self.c_off) / self.c_scale,
        );
        let r = y + 2.0 * (1.0 - self.kr) * cr;
        let b = y + 2.0 * (1.0 - self.kb) * cb;
        let g = (y - self.kr * r - self.kb * b) / (1.0 - self.kr - self.kb);
        [r, g, b]
    }

    pub fn to_yuv(&self, [r, g, b]: [f32; 3]) -> [f32; 3] {
        let y = self.kr * r + (1.0 - self.kr - self.kb) * g + self.kb * b;
        let cb = (b - y) / (2.0 * (1.0 - self.kb));
        let cr = (r - y) / (2.0 * (1.0 - self.kr));
        [
            y * self.y_scale + self.y_off,
            cb * self.c_scale + self.c_off,
            cr * self.c_scale + self.c_off,
        ]
    }
}

pub fn sample(p: &Plane, x: usize, y: usize) -> f32 {
    let i = y * p.width + x;
    match &p.samples {
        Samples::U8(d) => d[i] as f32,
        Samples::U16(d) => d[i] as f32,
    }
}

/// Chroma at a luma position, bilinear, honouring the frame's chroma siting.
pub fn chroma_at(f: &Frame, p: &Plane, x: usize, y: usize) -> f32 {
    let (sx, sy) = f.layout.log2_subsampling();
    let pos = |v: usize, s: u32, centred: bool| -> f32 {
        match (s, centred) {
            (0, _) => v as f32,
            (_, true) => (v as f32 + 0.5) / 2.0 - 0.5,
            (_, false) => v as f32 / 2.0,
        }
    };
    let cx = pos(x, sx, f.colour.chroma_center).clamp(0.0, (p.width - 1) as f32);
    let cy = pos(y, sy, true).clamp(0.0, (p.height - 1) as f32);
    let (x0, y0) = (cx.floor() as usize, cy.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(p.width - 1), (y0 + 1).min(p.height - 1));
    let (fx, fy) = (cx - x0 as f32, cy - y0 as f32);
    let top = sample(p, x0, y0) * (1.0 - fx) + sample(p, x1, y0) * fx;
    let bottom = sample(p, x0, y1) * (1.0 - fx) + sample(p, x1, y1) * fx;
    top * (1.0 - fy) + bottom * fy
}

/// Writes `v` into sample `i` of `p`, rounded and clamped to the depth's range.
pub fn store(p: &mut Plane, i: usize, v: f32, max: f32) {
    let v = (v + 0.5).clamp(0.0, max);
    match &mut p.samples {
        Samples::U8(d) => d[i] = v as u8,
        Samples::U16(d) => d[i] = v as u16,
    }
}

/// The whole frame as planar R′G′B′ `[3, h, w]`, values 0…1 (as the interpolation network takes it).
pub fn to_planar(f: &Frame) -> Vec<f32> {
    let m = Matrix::of(f);
    let (w, h) = (f.width, f.height);
    let gray = f.layout == kino_shared::ChromaLayout::Gray;
    let plane = w * h;
    let mut out = vec![0.0f32; 3 * plane];
    for y in 0..h {
        for x in 0..w {
            let yv = sample(&f.planes[0], x, y);
            let (u, v) = if gray {
                (m.neutral(), m.neutral())
            } else {
                (
                    chroma_at(f, &f.planes[1], x, y),
                    chroma_at(f, &f.planes[2], x, y),
                )
            };
            for (c, val) in m.to_rgb(yv, u, v).iter().enumerate() {
                out[c * plane + y * w + x] = val.clamp(0.0, 1.0);
            }
        }
    }
    out
}

/// Planar R′G′B′ `[3, h, w]` back into a frame of `like`'s size, layout, depth and matrix; each
/// chroma sample is the mean colour of the luma pixels it covers.
pub fn from_planar(data: &[f32], like: &Frame) -> Frame {
    let m = Matrix::of(like);
    let (w, h) = (like.width, like.height);
    let mut out = Frame::new(w, h, like.layout, like.bit_depth, like.colour);
    let max = like.max_value() as f32;
    let plane = w * h;
    let px = |x: usize, y: usize| -> [f32; 3] {
        let i = y * w + x;
        [data[i], data[plane + i], data[2 * plane + i]]
    };
    for y in 0..h {
        for x in 0..w {
            let [yv, _, _] = m.to_yuv(px(x, y));
            store(&mut out.planes[0], y * w + x, yv, max);
        }
    }
    if like.layout == kino_shared::ChromaLayout::Gray {
        return out;
    }
    let (sx, sy) = like.layout.log2_subsampling();
    let (bw, bh) = (1usize << sx, 1usize << sy);
    let (cw, ch) = (out.planes[1].width, out.planes[1].height);
    for cy in 0..ch {
        for cx in 0..cw {
            let mut sum = [0.0f32; 3];
            let mut n = 0.0f32;
            for y in (cy * bh..(cy + 1) * bh).filter(|&y| y < h) {
                for x in (cx * bw..(cx + 1) * bw).filter(|&x| x < w) {
                    sum.iter_mut().zip(px(x, y)).for_each(|(a, b)| *a += b);
                    n += 1.0;
                }
            }
            let [_, u, v] = m.to_yuv(sum.map(|v| v / n.max(1.0)));
            store(&mut out.planes[1], cy * cw + cx, u, max);
            store(&mut out.planes[2], cy * cw + cx, v, max);
        }
    }
    out
}
