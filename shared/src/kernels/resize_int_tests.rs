//! The integer resize against its portable build and the f32 resize.

use super::*;
use crate::frame::{ChromaLayout, ColourInfo, Frame, Samples};
use crate::kernels::resize::{resize_samples, resize_with};

/// A 4:2:0 picture with what filters find hard: noise (top left), hard 0/255 edges (bottom
/// right, the most over- and undershoot) and noisy ramps elsewhere.
fn picture(w: usize, h: usize, seed: u32) -> Frame {
    let mut f = Frame::new(w, h, ChromaLayout::Yuv420, 8, ColourInfo::default());
    let mut seed = seed;
    for p in &mut f.planes {
        let (pw, ph) = (p.width, p.height);
        let Samples::U8(d) = &mut p.samples else {
            panic!("8-bit picture")
        };
        for (i, v) in d.iter_mut().enumerate() {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let (x, y) = (i % pw, i / pw);
            *v = match (2 * x >= pw, 2 * y >= ph) {
                (false, false) => (seed >> 24) as u8,
                (true, true) => ((x / 3 + y / 5) % 2 * 255) as u8,
                _ => ((x * 7 + y * 3) % 220 + 16) as u8 ^ (seed >> 29) as u8,
            };
        }
    }
    f
}

/// Sizes with every kind of axis: ×2 (period 2; odd chroma widths with 322), 1280→1920 (period 3, step 2), 1920→640
/// (step 3), odd sizes both ways (gathers), and the identity; heights cut to keep tests short.
const CASES: [((usize, usize), (usize, usize)); 8] = [
    ((320, 90), (640, 180)),
    ((322, 46), (644, 92)),
    ((1280, 72), (1920, 108)),
    ((1920, 90), (640, 30)),
    ((333, 217), (517, 301)),
    ((517, 301), (333, 217)),
    ((999, 31), (333, 93)),
    ((64, 32), (64, 32)),
];
const FILTERS: [ResizeFilter; 2] = [ResizeFilter::Lanczos3, ResizeFilter::Bicubic];

fn int_path(f: &Frame, size: (usize, usize), filter: ResizeFilter, avx2: bool) -> Frame {
    resize_with(f, size.0, size.1, filter, |d, g, max| {
        resize_u8(d, g, filter, max, avx2)
    })
}

fn u8s(f: &Frame) -> impl Iterator<Item = &[u8]> {
    f.planes.iter().map(|p| match &p.samples {
        Samples::U8(d) => d.as_slice(),
        Samples::U16(_) => panic!("8-bit frame"),
    })
}

/// The AVX2 passes give the portable path's pixels exactly, luma and 4:2:0 chroma (where the
/// CPU lacks AVX2, both runs are the portable path).
#[test]
fn avx2_equals_portable() {
    for (k, &(src, dst)) in CASES.iter().enumerate() {
        let f = picture(src.0, src.1, k as u32 + 1);
        for filter in FILTERS {
            let a = int_path(&f, dst, filter, false);
            let b = int_path(&f, dst, filter, true);
            assert_eq!(a.planes.len(), 3);
            for (i, (pa, pb)) in u8s(&a).zip(u8s(&b)).enumerate() {
                assert!(pa == pb, "{src:?}->{dst:?} {filter:?} plane {i}");
            }
        }
    }
}

/// Integer against f32 over all cases and planes: max |difference|, mean |difference|, PSNR.
#[test]
fn integer_is_within_rounding_of_f32() {
    let (mut max, mut abs, mut sq, mut n) = (0u32, 0u64, 0u64, 0u64);
    for (k, &(src, dst)) in CASES.iter().enumerate() {
        let f = picture(src.0, src.1, k as u32 + 1);
        for filter in FILTERS {
            let int = int_path(&f, dst, filter, crate::kernels::use_avx2());
            let float = resize_with(&f, dst.0, dst.1, filter, |d, g, m| {
                resize_samples(d, g.0, g.1, g.2, g.3, filter, m)
            });
            let (mut cmax, mut cabs, mut cn) = (0u32, 0u64, 0u64);
            for (pi, pf) in u8s(&int).zip(u8s(&float)) {
                for (&a, &b) in pi.iter().zip(pf) {
                    let d = a.abs_diff(b) as u32;
                    cmax = cmax.max(d);
                    cabs += d as u64;
                    sq += (d * d) as u64;
                    cn += 1;
                }
            }
            eprintln!(
                "{src:?}->{dst:?} {filter:?}: max {cmax}, mean {:.5}",
                cabs as f64 / cn as f64
            );
            max = max.max(cmax);
            (abs, n) = (abs + cabs, n + cn);
        }
    }
    let mean = abs as f64 / n as f64;
    let psnr = 10.0 * (255.0f64 * 255.0 / (sq as f64 / n as f64).max(1e-12)).log10();
    eprintln!("integer vs f32 over {n} samples: max {max}, mean {mean:.5}, PSNR {psnr:.1} dB");
    assert!(max <= 2, "{max}");
    assert!(mean < 0.1, "{mean}");
    assert!(psnr > 50.0, "{psnr}");
}

/// Phase by phase and a gather per output give the same intermediate.
#[test]
fn phased_row_equals_the_gather_row() {
    let mut seed = 9u32;
    let line: Vec<u8> = (0..2000)
        .map(|_| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 24) as u8
        })
        .collect();
    let mut sc = Scratch::default();
    let mut periodic = 0;
    for (sw, dw, shift) in [
        (960, 1920, 0.0),
        (960, 1920, -0.25),
        (1280, 1920, 0.0),
        (1920, 640, 0.0),
        (1000, 500, 0.0),
        (480, 1920, 0.0),
        (701, 1402, 0.0),
    ] {
        for filter in FILTERS {
            let ax = Axis::new(sw, dw, sw as f64 / dw as f64, shift, filter);
            let Some(ph) = ax.phases() else {
                continue;
            };
            periodic += 1;
            let (mut a, mut b, mut c) = (vec![0i16; dw], vec![0i16; dw], vec![0i16; dw]);
            h_row(&mut sc, &line[..sw], &ax, None, &mut a, false);
            h_row(&mut sc, &line[..sw], &ax, Some(ph), &mut b, false);
            h_row(
                &mut sc,
                &line[..sw],
                &ax,
                Some(ph),
                &mut c,
                crate::kernels::use_avx2(),
            );
            assert!(a == b && b == c, "{sw}->{dw} {filter:?} {ph:?}");
        }
    }
    assert!(periodic >= 12, "{periodic}");
}

/// Every output's weights sum to exactly one, and none is -32768 (the `madd` bound).
#[test]
fn q14_weights_sum_to_one() {
    for (sw, dw) in [(960, 1920), (1280, 1920), (1920, 640), (517, 333), (100, 7)] {
        for filter in FILTERS {
            let ax = Axis::new(sw, dw, sw as f64 / dw as f64, 0.0, filter);
            for w in ax.weight_q14.chunks(ax.taps) {
                assert_eq!(w.iter().map(|&v| v as i32).sum::<i32>(), 1 << 14);
                assert!(w.iter().all(|&v| v > i16::MIN));
            }
        }
    }
}
