//! Runs every public kino-shared kernel on fixed synthetic frames and hashes what comes out (every
//! output sample, every `f32` result by its bits) with FNV-1a 64. Built natively and for
//! `wasm32-unknown-unknown`, the two digests must be equal: the browser preview and the node render
//! compute the same pixels (see `tests/tests/wasm.rs`).
//!
//! The inputs are made from integer LCGs and basic IEEE arithmetic only, so they are the same on
//! every target; each kernel gets its own inputs where it can, so a digest that differs points at
//! the kernel that differs rather than at everything downstream of it.

use std::sync::OnceLock;

use kino_shared::kernels::motion::{Correction, Gray, Motion, SmoothMode};
use kino_shared::kernels::{color, denoise, motion, resize, sharpen, tonemap, warp};
use kino_shared::{ChromaLayout, ColorParams, ColourInfo, Frame, ResizeFilter, Samples};

/// What each per-kernel digest covers, in the order of [`kernel_digest`].
pub const KERNELS: [&str; 15] = [
    "resize::resize (Lanczos3)",
    "resize::resize (Bicubic)",
    "color::adjust",
    "color::stats + AutoCorrection::from_stats/mean + hist_distance",
    "color::grade",
    "denoise::estimate_sigma",
    "denoise::denoise",
    "sharpen::sharpen",
    "tonemap::hdr_to_sdr",
    "tonemap::sdr_to_hdr",
    "motion::analysis_luma",
    "motion::estimate",
    "motion::smooth",
    "motion::auto_zoom",
    "warp::warp",
];

/// The digest of everything: FNV-1a 64 over the per-kernel digests in order.
#[no_mangle]
pub extern "C" fn kernels_digest() -> u64 {
    let mut h = Fnv::new();
    for &d in digests() {
        h.u64(d);
    }
    h.0
}

/// How many per-kernel digests there are.
#[no_mangle]
pub extern "C" fn kernel_count() -> u32 {
    KERNELS.len() as u32
}

/// The digest of kernel `i` (named by [`KERNELS`]), 0 when `i` is out of range.
#[no_mangle]
pub extern "C" fn kernel_digest(i: u32) -> u64 {
    digests().get(i as usize).copied().unwrap_or(0)
}

fn digests() -> &'static [u64; KERNELS.len()] {
    static D: OnceLock<[u64; KERNELS.len()]> = OnceLock::new();
    D.get_or_init(compute)
}

/// FNV-1a, 64 bits.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= x as u64;
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.bytes(&v.to_bits().to_le_bytes());
    }
    fn f32s(&mut self, v: &[f32]) {
        v.iter().for_each(|&x| self.f32(x));
    }
    fn frame(&mut self, f: &Frame) {
        for v in [f.width, f.height, f.layout as usize, f.bit_depth as usize] {
            self.u64(v as u64);
        }
        let c = f.colour;
        self.bytes(&[
            c.full_range as u8,
            c.matrix,
            c.transfer,
            c.primaries,
            c.chroma_center as u8,
        ]);
        for p in &f.planes {
            self.u64(p.width as u64);
            self.u64(p.height as u64);
            match &p.samples {
                Samples::U8(d) => self.bytes(d),
                Samples::U16(d) => d.iter().for_each(|s| self.bytes(&s.to_le_bytes())),
            }
        }
    }
    fn gray(&mut self, g: &Gray) {
        self.u64(g.width as u64);
        self.u64(g.height as u64);
        self.f32s(&g.data);
    }
    fn motion(&mut self, m: &Motion) {
        self.f32s(&[m.dx, m.dy, m.angle, m.scale, m.confidence]);
    }
    fn correction(&mut self, c: &Correction) {
        self.f32s(&[c.dx, c.dy, c.angle, c.scale]);
    }
}

/// PCG-style 64-bit LCG, top bits out.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
    /// Uniform in `0..n`.
    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }
    /// Uniform in `[-a, a]` on a 1/1024 grid (exact in f32).
    fn signed(&mut self, a: f32) -> f32 {
        (self.below(2049) as f32 - 1024.0) / 1024.0 * a
    }
}

/// Grid spacing of the texture, in scene pixels.
const CELL: usize = 8;

/// A textured picture defined at any real position: LCG values on a coarse grid, interpolated
/// bilinearly, plus a checkerboard for hard edges and corners. Basic f64 operations only.
struct Scene {
    gw: usize,
    gh: usize,
    grid: Vec<f64>,
    lo: f64,
    hi: f64,
}

impl Scene {
    fn new(w: usize, h: usize, seed: u64, lo: u32, hi: u32) -> Scene {
        let (gw, gh) = (w / CELL + 3, h / CELL + 3);
        let mut rng = Lcg(seed);
        let span = hi - lo + 1;
        let grid = (0..gw * gh)
            .map(|_| (lo + rng.below(span)) as f64)
            .collect();
        Scene {
            gw,
            gh,
            grid,
            lo: lo as f64,
            hi: hi as f64,
        }
    }

    fn at(&self, x: f64, y: f64) -> f64 {
        let limit = |v: f64, n: usize| v.clamp(0.0, (n * CELL - CELL - 1) as f64);
        let (x, y) = (limit(x, self.gw), limit(y, self.gh));
        let (gx, gy) = (x / CELL as f64, y / CELL as f64);
        let (x0, y0) = (gx.floor(), gy.floor());
        let (fx, fy) = (gx - x0, gy - y0);
        let (i, j) = (x0 as usize, y0 as usize);
        let g = |a: usize, b: usize| self.grid[b * self.gw + a];
        let v = g(i, j) * (1.0 - fx) * (1.0 - fy)
            + g(i + 1, j) * fx * (1.0 - fy)
            + g(i, j + 1) * (1.0 - fx) * fy
            + g(i + 1, j + 1) * fx * fy;
        let checker = ((x / 13.0).floor() + (y / 11.0).floor()) as i64 % 2 == 0;
        let amp = (self.hi - self.lo) * 0.15;
        v + if checker { amp } else { -amp }
    }
}

/// Where a frame sits on its scenes: `scene = c + k·R(angle)·(p − c) + offset`, with `sin` given
/// and `cos = sqrt(1 − sin²)` (no libm).
#[derive(Clone, Copy)]
struct Pose {
    sin: f64,
    zoom: f64,
    dx: f64,
    dy: f64,
}

const STILL: Pose = Pose {
    sin: 0.0,
    zoom: 1.0,
    dx: 0.0,
    dy: 0.0,
};

/// Margin of the scenes around the frame, in luma pixels.
const MARGIN: usize = 16;

/// A frame of `w`×`h` 4:2:0 at `depth` bits, sampled from three scenes at `pose`, with LCG noise of
/// amplitude `noise` (code values at this depth) seeded by `noise_seed`.
fn frame(
    (w, h): (usize, usize),
    depth: u8,
    colour: ColourInfo,
    scenes: &[Scene; 3],
    pose: Pose,
    noise: u32,
    noise_seed: u64,
) -> Frame {
    let mut f = Frame::new(w, h, ChromaLayout::Yuv420, depth, colour);
    let cos = (1.0 - pose.sin * pose.sin).sqrt();
    let (cx, cy) = ((w as f64 - 1.0) * 0.5, (h as f64 - 1.0) * 0.5);
    let mut rng = Lcg(noise_seed);
    let max = f.max_value() as f64;
    for (i, p) in f.planes.iter_mut().enumerate() {
        let sub = if i == 0 { 1.0 } else { 2.0 };
        let (pw, ph) = (p.width, p.height);
        let values: Vec<u32> = (0..pw * ph)
            .map(|k| {
                // Plane sample → luma position → scene position.
                let (x, y) = ((k % pw) as f64 * sub, (k / pw) as f64 * sub);
                let (u, v) = (x - cx, y - cy);
                let sx = cx + pose.zoom * (cos * u - pose.sin * v) + pose.dx + MARGIN as f64;
                let sy = cy + pose.zoom * (pose.sin * u + cos * v) + pose.dy + MARGIN as f64;
                let s = scenes[i].at(sx / sub, sy / sub);
                let n = if noise > 0 {
                    (rng.below(2 * noise + 1) + rng.below(2 * noise + 1)) as f64
                        - 2.0 * noise as f64
                } else {
                    0.0
                };
                (s + n + 0.5).floor().clamp(0.0, max) as u32
            })
            .collect();
        p.samples = match p.samples {
            Samples::U8(_) => Samples::U8(values.iter().map(|&v| v as u8).collect()),
            Samples::U16(_) => Samples::U16(values.iter().map(|&v| v as u16).collect()),
        };
    }
    f
}

const SIZE: (usize, usize) = (96, 64);

fn scenes(seed: u64, y: (u32, u32), cb: (u32, u32), cr: (u32, u32)) -> [Scene; 3] {
    let (w, h) = (SIZE.0 + 2 * MARGIN, SIZE.1 + 2 * MARGIN);
    [
        Scene::new(w, h, seed, y.0, y.1),
        Scene::new(w / 2, h / 2, seed ^ 0x5bd1_e995, cb.0, cb.1),
        Scene::new(w / 2, h / 2, seed ^ 0x1b87_3593, cr.0, cr.1),
    ]
}

/// Three poses of a shaky camera: still, a sub-pixel shift, then a turn with a zoom.
const POSES: [Pose; 3] = [
    STILL,
    Pose {
        sin: 0.0,
        zoom: 1.0,
        dx: 1.25,
        dy: -0.75,
    },
    Pose {
        sin: 0.015,
        zoom: 1.01,
        dx: 2.5,
        dy: 0.5,
    },
];

fn compute() -> [u64; KERNELS.len()] {
    let sdr = ColourInfo {
        full_range: false,
        matrix: 1,
        transfer: 1,
        primaries: 1,
        chroma_center: false,
    };
    let pq = ColourInfo {
        full_range: false,
        matrix: 9,
        transfer: 16,
        primaries: 9,
        chroma_center: false,
    };
    // 8-bit SDR with a slight blue cast (for white balance); 10-bit PQ reaching into highlights.
    let s8 = scenes(1, (30, 220), (122, 142), (116, 134));
    let s10 = scenes(2, (100, 900), (420, 600), (430, 590));
    let win8: Vec<Frame> = POSES
        .iter()
        .enumerate()
        .map(|(i, &p)| frame(SIZE, 8, sdr, &s8, p, 4, 10 + i as u64))
        .collect();
    let win10: Vec<Frame> = POSES
        .iter()
        .enumerate()
        .map(|(i, &p)| frame(SIZE, 10, pq, &s10, p, 12, 20 + i as u64))
        .collect();
    let clean8 = frame(SIZE, 8, sdr, &s8, STILL, 0, 0);
    // 16 bits: rounding to the output's code values hides almost nothing of a last-bit difference.
    let s16 = scenes(
        3,
        (30 << 8, 220 << 8),
        (110 << 8, 150 << 8),
        (100 << 8, 160 << 8),
    );
    let f16 = frame(SIZE, 16, sdr, &s16, POSES[2], 300, 30);
    // Every 16-bit code value once, so lookup tables are checked entry by entry.
    let ramp16 = {
        let mut f = Frame::new(256, 256, ChromaLayout::Gray, 16, sdr);
        f.planes[0].samples = Samples::U16((0..=u16::MAX).collect());
        f
    };
    let (f8, f10) = (&win8[0], &win10[0]);
    let mut f8_jpeg = f8.clone();
    f8_jpeg.colour.chroma_center = true;
    f8_jpeg.colour.full_range = true;
    let mut hlg = f10.clone();
    hlg.colour.transfer = 18;
    let mut out = [0u64; KERNELS.len()];
    let mut digest = |i: usize, f: &dyn Fn(&mut Fnv)| {
        let mut h = Fnv::new();
        f(&mut h);
        out[i] = h.0;
    };

    // Resize: up and down, integer (odd) and fractional factors, every tap-count path.
    let sizes = [
        (288, 192),
        (32, 22),
        (150, 100),
        (62, 42),
        (97, 63),
        (250, 170),
        (46, 30),
    ];
    for (i, filter) in [(0, ResizeFilter::Lanczos3), (1, ResizeFilter::Bicubic)] {
        digest(i, &|h| {
            for src in [f8, f10, &f8_jpeg, &f16] {
                for (w, ht) in sizes {
                    h.frame(&resize::resize(src, w, ht, filter));
                }
            }
        });
    }

    // Manual colour: gamma goes through `powf`.
    digest(2, &|h| {
        for (gamma, contrast, brightness, saturation) in [
            (1.4, 1.2, 0.05, 1.3),
            (0.7, 0.8, -0.1, 0.5),
            (2.2, 1.0, 0.0, 1.0),
        ] {
            let p = ColorParams {
                brightness,
                contrast,
                saturation,
                gamma,
                ..Default::default()
            };
            for src in [f8, f10, &f8_jpeg, &f16, &ramp16] {
                let mut f = src.clone();
                color::adjust(&mut f, &p);
                h.frame(&f);
            }
        }
    });

    let auto_params = ColorParams {
        auto_white_balance: true,
        auto_levels: true,
        ..Default::default()
    };
    digest(3, &|h| {
        let mut corrections = Vec::new();
        for src in [f8, f10, &f8_jpeg, &clean8, &f16] {
            let st = color::stats(src);
            h.f32s(&st.hist);
            h.f32s(&st.neutral_rgb);
            h.f32(st.neutral_share);
            let c = color::AutoCorrection::from_stats(&st, &auto_params);
            h.f32s(&c.gains);
            h.f32s(&[c.black, c.white]);
            h.f32(color::hist_distance(&st, &color::stats(&win8[2])));
            corrections.push((0.25 + corrections.len() as f32, c));
        }
        let m = color::AutoCorrection::mean(&corrections);
        h.f32s(&m.gains);
        h.f32s(&[m.black, m.white]);
    });

    digest(4, &|h| {
        let p = ColorParams {
            temperature: 0.3,
            tint: -0.2,
            vibrance: 0.4,
            contrast: 1.1,
            saturation: 1.1,
            ..auto_params
        };
        for src in [f8, f10, &f8_jpeg, &f16] {
            let auto = color::AutoCorrection::from_stats(&color::stats(src), &p);
            let mut f = src.clone();
            color::grade(&mut f, &p, &auto);
            h.frame(&f);
        }
        // Negative vibrance, no automatic parts.
        let mut f = f8.clone();
        let q = ColorParams {
            vibrance: -0.5,
            temperature: -0.4,
            tint: 0.3,
            ..Default::default()
        };
        color::grade(&mut f, &q, &color::AutoCorrection::default());
        h.frame(&f);
    });

    digest(5, &|h| {
        for src in win8.iter().chain(&win10).chain([&clean8]) {
            h.f32(denoise::estimate_sigma(src));
        }
    });

    digest(6, &|h| {
        for win in [&win8, &win10] {
            let refs: Vec<&Frame> = win.iter().collect();
            let sigma = denoise::estimate_sigma(&win[1]);
            for (strength, current) in [(1.0, 1), (0.6, 0), (1.5, 2)] {
                let s = denoise::DenoiseSettings { sigma, strength };
                h.frame(&denoise::denoise(&refs, current, &s));
            }
            // Spatial only, fixed sigma.
            let s = denoise::DenoiseSettings {
                sigma: 3.0,
                strength: 1.0,
            };
            h.frame(&denoise::denoise(&refs[..1], 0, &s));
        }
    });

    digest(7, &|h| {
        for (amount, radius, threshold) in [(1.0, 1.0, 2.0), (2.0, 0.6, 0.0), (0.7, 2.3, 4.0)] {
            let s = sharpen::SharpenSettings {
                amount,
                radius,
                threshold,
            };
            for src in [f8, f10, &f16] {
                h.frame(&sharpen::sharpen(src, &s));
            }
        }
    });

    digest(8, &|h| {
        let params = [
            tonemap::ToneMapParams::default(),
            tonemap::ToneMapParams {
                source_peak_nits: 4000.0,
                target_peak_nits: 203.0,
                bit_depth: 10,
            },
        ];
        for p in &params {
            for src in [f10, &hlg] {
                h.frame(&tonemap::hdr_to_sdr(src, p));
            }
        }
    });

    digest(9, &|h| {
        let params = [
            tonemap::InverseToneMapParams::default(),
            tonemap::InverseToneMapParams {
                reference_white_nits: 100.0,
                peak_nits: 2000.0,
            },
        ];
        let mut bt601 = f8.clone();
        bt601.colour.matrix = 6;
        for p in &params {
            for src in [f8, &bt601] {
                h.frame(&tonemap::sdr_to_hdr(src, p));
            }
        }
    });

    digest(10, &|h| {
        for (src, side) in [(f8, 96), (f8, 48), (f10, 40), (&win10[2], 96), (&f16, 50)] {
            let (g, k) = motion::analysis_luma(src, side);
            h.gray(&g);
            h.f32(k);
        }
    });

    digest(11, &|h| {
        for win in [&win8, &win10] {
            let a: Vec<(Gray, f32)> = win.iter().map(|f| motion::analysis_luma(f, 96)).collect();
            for (i, j) in [(0, 1), (1, 2), (0, 2), (2, 0)] {
                h.motion(&motion::estimate(&a[i].0, &a[j].0, a[i].1));
            }
        }
    });

    // Camera paths: LCG motions (some below the confidence floor), corrections for the zoom.
    let mut rng = Lcg(77);
    let motions: Vec<Motion> = (0..40)
        .map(|_| Motion {
            dx: rng.signed(6.0),
            dy: rng.signed(4.0),
            angle: rng.signed(0.02),
            scale: rng.signed(0.01),
            confidence: rng.below(1025) as f32 / 1024.0,
        })
        .collect();
    let corrections: Vec<Correction> = (0..40)
        .map(|_| Correction {
            dx: rng.signed(8.0),
            dy: rng.signed(5.0),
            angle: rng.signed(0.03),
            scale: rng.signed(0.02),
        })
        .collect();
    digest(12, &|h| {
        for mode in [
            SmoothMode::Smooth { radius_frames: 6 },
            SmoothMode::Smooth { radius_frames: 30 },
            SmoothMode::Smooth { radius_frames: 0 },
            SmoothMode::Tripod,
        ] {
            motion::smooth(&motions, mode)
                .iter()
                .for_each(|c| h.correction(c));
        }
    });

    digest(13, &|h| {
        for (w, ht) in [(96, 64), (1920, 1080), (720, 1280)] {
            for max_zoom in [1.5, 1.05] {
                h.f32(motion::auto_zoom(&corrections, w, ht, max_zoom));
                h.f32(motion::auto_zoom(&corrections[..5], w, ht, max_zoom));
            }
        }
    });

    digest(14, &|h| {
        let turns = [
            (
                Correction {
                    dx: 2.3,
                    dy: -1.7,
                    angle: 0.03,
                    scale: 0.02,
                },
                1.08,
            ),
            (
                Correction {
                    dx: -0.4,
                    dy: 0.9,
                    angle: -0.11,
                    scale: -0.05,
                },
                1.0,
            ),
            (corrections[3], 1.2),
        ];
        for (c, zoom) in turns {
            for fill in [warp::EdgeFill::Black, warp::EdgeFill::Clamp] {
                for src in [f8, f10, &f16] {
                    h.frame(&warp::warp(src, &c, zoom, fill));
                }
            }
        }
    });
    out
}
