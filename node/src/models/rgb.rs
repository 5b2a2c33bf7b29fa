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
