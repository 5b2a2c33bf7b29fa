//! Milliseconds per frame of the classic kernels on one core (issue 22): the resize (×2 Lanczos-3
//! and bicubic from 1080p and 360p), colour and sharpen at 1080p, on a noisy test picture.
//! `cargo run --release -p kino-shared --example kernel_bench [FRAMES]`

use kino_shared::kernels::{color, denoise, resize, sharpen};
use kino_shared::{ChromaLayout, ColorParams, ColourInfo, Frame, ResizeFilter, Samples};
use std::time::Instant;

fn picture(w: usize, h: usize) -> Frame {
    let mut f = Frame::new(w, h, ChromaLayout::Yuv420, 8, ColourInfo::default());
    let mut seed = 1u32;
    for p in &mut f.planes {
        let pw = p.width;
        if let Samples::U8(d) = &mut p.samples {
            for (i, v) in d.iter_mut().enumerate() {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *v = (((i % pw) * 7 + (i / pw) * 3) % 200 + 16) as u8 ^ ((seed >> 29) as u8);
            }
        }
    }
    f
}

fn time(name: &str, frames: usize, mut f: impl FnMut() -> Frame) {
    let _ = f();
    let t = Instant::now();
    let mut sum = 0u64;
    for _ in 0..frames {
        let out = f();
        if let Samples::U8(d) = &out.planes[0].samples {
            sum += u64::from(d[d.len() / 2]);
        }
    }
    let ms = t.elapsed().as_secs_f64() * 1000.0 / frames as f64;
    println!("{name:<34} {ms:8.2} ms/frame  (check {sum})");
}

fn main() {
    let frames: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    for (w, h) in [(1920, 1080), (640, 360)] {
        let src = picture(w, h);
        for filter in [ResizeFilter::Lanczos3, ResizeFilter::Bicubic] {
            time(&format!("resize {h}p x2 {filter:?}"), frames, || {
                resize::resize(&src, w * 2, h * 2, filter)
            });
        }
    }
    let src = picture(1920, 1080);
    let grade = ColorParams {
        saturation: 1.2,
        contrast: 1.1,
        ..Default::default()
    };
    time("colour 1080p (saturation, contrast)", frames, || {
        let mut f = src.clone();
        color::adjust(&mut f, &grade);
        f
    });
    let s = sharpen::SharpenSettings {
        amount: 1.0,
        radius: 1.2,
        threshold: 2.0,
    };
    time("sharpen 1080p", frames, || sharpen::sharpen(&src, &s));
    time(
        "noise estimate 1080p (sharpen's auto threshold)",
        frames,
        || {
            std::hint::black_box(denoise::estimate_sigma(&src));
            Frame::new(2, 2, ChromaLayout::Yuv420, 8, ColourInfo::default())
        },
    );
}
