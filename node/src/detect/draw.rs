//! Rendering tracked boxes into frames: an outline with a label (class and track id), and a strong
//! blur of a padded box for privacy. Works on the frame's own planes (any chroma layout and depth),
//! so nothing is converted to RGB and back.

use crate::models::rgb::Matrix;
use kino_shared::{Frame, Plane, Samples};

pub use crate::analysis::FrameBox;

/// The box grown by `padding` × its size on every side (clamped to the frame).
pub fn padded(rect: [f32; 4], padding: f32) -> [f32; 4] {
    let (pw, ph) = ((rect[2] - rect[0]) * padding, (rect[3] - rect[1]) * padding);
    [
        (rect[0] - pw).max(0.0),
        (rect[1] - ph).max(0.0),
        (rect[2] + pw).min(1.0),
        (rect[3] + ph).min(1.0),
    ]
}

/// A box in a plane's pixels: [x0, x1) × [y0, y1), for a plane subsampled by (sx, sy).
fn plane_rect(
    (fw, fh): (usize, usize),
    p: &Plane,
    rect: [f32; 4],
    (sx, sy): (u32, u32),
) -> (usize, usize, usize, usize) {
    let x0 = ((rect[0] * fw as f32).floor().max(0.0) as usize) >> sx;
    let y0 = ((rect[1] * fh as f32).floor().max(0.0) as usize) >> sy;
    let x1 = ((rect[2] * fw as f32).ceil() as usize)
        .div_ceil(1 << sx)
        .min(p.width);
    let y1 = ((rect[3] * fh as f32).ceil() as usize)
        .div_ceil(1 << sy)
        .min(p.height);
    (x0.min(x1), x1, y0.min(y1), y1)
}

/// Blurs `rect` so that nothing in it can be recognised: three passes of a box blur whose radius is
/// a quarter of the box's larger side (about a Gaussian of that sigma), within the box.
pub fn blur(f: &mut Frame, rect: [f32; 4]) {
    let sub = f.layout.log2_subsampling();
    let (fw, fh) = (f.width, f.height);
    for (i, p) in f.planes.iter_mut().enumerate() {
        let s = if i == 0 { (0, 0) } else { sub };
        let (x0, x1, y0, y1) = plane_rect((fw, fh), p, rect, s);
        let (w, h) = (x1 - x0, y1 - y0);
        if w < 2 || h < 2 {
            continue;
        }
        let radius = (w.max(h) / 4).max(2);
        let mut buf: Vec<f32> = (y0..y1)
            .flat_map(|y| (x0..x1).map(move |x| (x, y)))
            .map(|(x, y)| get(p, x, y))
            .collect();
        for _ in 0..3 {
            box_pass(&mut buf, w, h, radius, true);
            box_pass(&mut buf, w, h, radius, false);
        }
        for y in 0..h {
            for x in 0..w {
                set(p, x0 + x, y0 + y, buf[y * w + x]);
            }
        }
    }
}

/// One box-blur pass along rows (`horizontal`) or columns, edges clamped.
fn box_pass(buf: &mut [f32], w: usize, h: usize, r: usize, horizontal: bool) {
    let (n, lines) = if horizontal { (w, h) } else { (h, w) };
    let idx = |line: usize, i: usize| {
        if horizontal {
            line * w + i
        } else {
            i * w + line
        }
    };
    let mut src = vec![0.0f32; n];
    let norm = 1.0 / (2 * r + 1) as f32;
    for line in 0..lines {
        for (i, s) in src.iter_mut().enumerate() {
            *s = buf[idx(line, i)];
        }
        let at = |k: isize| src[k.clamp(0, n as isize - 1) as usize];
        let mut sum: f32 = (-(r as isize)..=r as isize).map(at).sum();
        for i in 0..n {
            buf[idx(line, i)] = sum * norm;
            sum += at(i as isize + r as isize + 1) - at(i as isize - r as isize);
        }
    }
}

fn get(p: &Plane, x: usize, y: usize) -> f32 {
    match &p.samples {
        Samples::U8(d) => d[y * p.width + x] as f32,
        Samples::U16(d) => d[y * p.width + x] as f32,
    }
}

fn set(p: &mut Plane, x: usize, y: usize, v: f32) {
    let i = y * p.width + x;
    match &mut p.samples {
        Samples::U8(d) => d[i] = (v + 0.5).clamp(0.0, 255.0) as u8,
        Samples::U16(d) => d[i] = (v + 0.5).clamp(0.0, 65535.0) as u16,
    }
}

/// A distinct colour per class (R′G′B′ 0…1).
fn colour(class: u8) -> [f32; 3] {
    const PALETTE: [[f32; 3]; 8] = [
        [1.0, 0.2, 0.2],
        [0.2, 0.9, 0.2],
        [0.25, 0.5, 1.0],
        [1.0, 0.85, 0.1],
        [1.0, 0.3, 1.0],
        [0.1, 0.9, 0.9],
        [1.0, 0.55, 0.1],
        [0.7, 0.5, 1.0],
    ];
    PALETTE[class as usize % PALETTE.len()]
}

/// Fills `rect` (in luma pixels, [x0, x1) × [y0, y1)) with an R′G′B′ colour on every plane.
fn fill(f: &mut Frame, m: &Matrix, (x0, x1, y0, y1): (usize, usize, usize, usize), rgb: [f32; 3]) {
    let yuv = m.to_yuv(rgb);
    let (sx, sy) = f.layout.log2_subsampling();
    let max = f.max_value() as f32;
    for (i, p) in f.planes.iter_mut().enumerate() {
        let (ax, ay) = if i == 0 { (0, 0) } else { (sx, sy) };
        let (px0, py0) = (x0 >> ax, y0 >> ay);
        let px1 = x1.div_ceil(1 << ax).min(p.width);
        let py1 = y1.div_ceil(1 << ay).min(p.height);
        for y in py0..py1 {
            for x in px0..px1 {
                set(p, x, y, yuv[i].clamp(0.0, max));
            }
        }
    }
}

/// Draws the box outline and a label `CLASS #ID` above it (inside when it would leave the frame).
pub fn draw(f: &mut Frame, b: &FrameBox) {
    let m = Matrix::of(f);
    let (w, h) = (f.width, f.height);
    let t = (h / 300).max(2);
    let x0 = ((b.rect[0] * w as f32) as usize).min(w.saturating_sub(1));
    let y0 = ((b.rect[1] * h as f32) as usize).min(h.saturating_sub(1));
    let x1 = ((b.rect[2] * w as f32) as usize).clamp(x0 + 1, w);
    let y1 = ((b.rect[3] * h as f32) as usize).clamp(y0 + 1, h);
    let c = colour(b.class);
    fill(f, &m, (x0, x1, y0, (y0 + t).min(y1)), c);
    fill(f, &m, (x0, x1, y1.saturating_sub(t).max(y0), y1), c);
    fill(f, &m, (x0, (x0 + t).min(x1), y0, y1), c);
    fill(f, &m, (x1.saturating_sub(t).max(x0), x1, y0, y1), c);
    let label = format!("{} #{}", kino_shared::class_name(b.class), b.id).to_uppercase();
    let s = (h / 360).max(1);
    let (lw, lh) = (label.len() * 6 * s + 2 * s, 9 * s);
    let ly = if y0 >= lh { y0 - lh } else { y0 };
    let lx = x0.min(w.saturating_sub(lw));
    fill(f, &m, (lx, (lx + lw).min(w), ly, (ly + lh).min(h)), c);
    for (k, ch) in label.chars().enumerate() {
        let Some(rows) = glyph(ch) else { continue };
        for (r, bits) in rows.iter().enumerate() {
            for col in 0..5 {
                if bits >> (4 - col) & 1 == 1 {
                    let px = lx + s + (k * 6 + col) * s;
                    let py = ly + s + r * s;
                    fill(
                        f,
                        &m,
                        (px, (px + s).min(w), py, (py + s).min(h)),
                        [0.0, 0.0, 0.0],
                    );
                }
            }
        }
    }
}

/// 5×7 bitmap of an upper-case letter, digit, `#` (space: none).
fn glyph(c: char) -> Option<&'static [u8; 7]> {
    FONT.iter().find(|(k, _)| *k == c).map(|(_, g)| g)
}

const FONT: [(char, [u8; 7]); 37] = [
    (
        'A',
        [
            0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
        ],
    ),
    (
        'B',
        [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10001, 0b10001, 0b11110,
        ],
    ),
    (
        'C',
        [
            0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110,
        ],
    ),
    (
        'D',
        [
            0b11110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b11110,
        ],
    ),
    (
        'E',
        [
            0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111,
        ],
    ),
    (
        'F',
        [
            0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b10000,
        ],
    ),
    (
        'G',
        [
            0b01110, 0b10001, 0b10000, 0b10111, 0b10001, 0b10001, 0b01111,
        ],
    ),
    (
        'H',
        [
            0b10001, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001,
        ],
    ),
    (
        'I',
        [
            0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
        ],
    ),
    (
        'J',
        [
            0b00111, 0b00010, 0b00010, 0b00010, 0b00010, 0b10010, 0b01100,
        ],
    ),
    (
        'K',
        [
            0b10001, 0b10010, 0b10100, 0b11000, 0b10100, 0b10010, 0b10001,
        ],
    ),
    (
        'L',
        [
            0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111,
        ],
    ),
    (
        'M',
        [
            0b10001, 0b11011, 0b10101, 0b10101, 0b10001, 0b10001, 0b10001,
        ],
    ),
    (
        'N',
        [
            0b10001, 0b10001, 0b11001, 0b10101, 0b10011, 0b10001, 0b10001,
        ],
    ),
    (
        'O',
        [
            0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
        ],
    ),
    (
        'P',
        [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000,
        ],
    ),
    (
        'Q',
        [
            0b01110, 0b10001, 0b10001, 0b10001, 0b10101, 0b10010, 0b01101,
        ],
    ),
    (
        'R',
        [
            0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001,
        ],
    ),
    (
        'S',
        [
            0b01111, 0b10000, 0b10000, 0b01110, 0b00001, 0b00001, 0b11110,
        ],
    ),
    (
        'T',
        [
            0b11111, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100,
        ],
    ),
    (
        'U',
        [
            0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110,
        ],
    ),
    (
        'V',
        [
            0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100,
        ],
    ),
    (
        'W',
        [
            0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010,
        ],
    ),
    (
        'X',
        [
            0b10001, 0b10001, 0b01010, 0b00100, 0b01010, 0b10001, 0b10001,
        ],
    ),
    (
        'Y',
        [
            0b10001, 0b10001, 0b10001, 0b01010, 0b00100, 0b00100, 0b00100,
        ],
    ),
    (
        'Z',
        [
            0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b10000, 0b11111,
        ],
    ),
    (
        '0',
        [
            0b01110, 0b10001, 0b10011, 0b10101, 0b11001, 0b10001, 0b01110,
        ],
    ),
    (
        '1',
        [
            0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110,
        ],
    ),
    (
        '2',
        [
            0b01110, 0b10001, 0b00001, 0b00010, 0b00100, 0b01000, 0b11111,
        ],
    ),
    (
        '3',
        [
            0b11111, 0b00010, 0b00100, 0b00010, 0b00001, 0b10001, 0b01110,
        ],
    ),
    (
        '4',
        [
            0b00010, 0b00110, 0b01010, 0b10010, 0b11111, 0b00010, 0b00010,
        ],
    ),
    (
        '5',
        [
            0b11111, 0b10000, 0b11110, 0b00001, 0b00001, 0b10001, 0b01110,
        ],
    ),
    (
        '6',
        [
            0b00110, 0b01000, 0b10000, 0b11110, 0b10001, 0b10001, 0b01110,
        ],
    ),
    (
        '7',
        [
            0b11111, 0b00001, 0b00010, 0b00100, 0b01000, 0b01000, 0b01000,
        ],
    ),
    (
        '8',
        [
            0b01110, 0b10001, 0b10001, 0b01110, 0b10001, 0b10001, 0b01110,
        ],
    ),
    (
        '9',
        [
            0b01110, 0b10001, 0b10001, 0b01111, 0b00001, 0b00010, 0b01100,
        ],
    ),
    (
        '#',
        [
            0b01010, 0b01010, 0b11111, 0b01010, 0b11111, 0b01010, 0b01010,
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use kino_shared::{ChromaLayout, ColourInfo};

    fn noisy(w: usize, h: usize) -> Frame {
        let mut f = Frame::new(w, h, ChromaLayout::Yuv420, 8, ColourInfo::default());
        for (k, p) in f.planes.iter_mut().enumerate() {
            if let Samples::U8(d) = &mut p.samples {
                for (i, v) in d.iter_mut().enumerate() {
                    *v = if (i * 7 + k + i / p.width) % 2 == 0 {
                        40
                    } else {
                        200
                    };
                }
            }
        }
        f
    }

    fn hf(p: &Plane, x0: usize, x1: usize, y0: usize, y1: usize) -> f32 {
        let mut e = 0.0;
        for y in y0..y1 {
            for x in x0..x1 - 1 {
                e += (get(p, x + 1, y) - get(p, x, y)).powi(2);
            }
        }
        e / ((x1 - x0 - 1) * (y1 - y0)) as f32
    }

    #[test]
    fn blur_removes_detail_inside_and_leaves_the_rest() {
        let orig = noisy(64, 48);
        let mut f = orig.clone();
        blur(&mut f, [0.25, 0.25, 0.75, 0.75]);
        let before = hf(&orig.planes[0], 16, 48, 12, 36);
        let after = hf(&f.planes[0], 16, 48, 12, 36);
        assert!(after * 100.0 < before, "{before} → {after}");
        // Outside the box: untouched.
        assert_eq!(
            hf(&f.planes[0], 0, 16, 0, 48),
            hf(&orig.planes[0], 0, 16, 0, 48)
        );
        assert_eq!(get(&f.planes[0], 15, 12), get(&orig.planes[0], 15, 12));
    }

    #[test]
    fn draw_marks_the_outline_and_stays_inside_the_frame() {
        let mut f = noisy(64, 48);
        draw(
            &mut f,
            &FrameBox {
                id: 12,
                class: 0,
                rect: [0.0, 0.0, 1.0, 1.0],
            },
        );
        let y = get(&f.planes[0], 30, 0);
        assert_eq!(get(&f.planes[0], 30, 47), y);
        draw(
            &mut f,
            &FrameBox {
                id: 3,
                class: 80,
                rect: [0.9, 0.9, 1.0, 1.0],
            },
        );
    }
}
