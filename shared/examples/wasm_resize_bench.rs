//! The 8-bit resize as the browser preview runs it (wasm32 with SIMD128, the portable path):
//! `kbench(n, filter)` resizes a noisy 1080p 4:2:0 frame ×2 `n` times (Lanczos-3 for `filter` 0,
//! else bicubic) and returns a checksum; node times the calls. `kdigest()` hashes the pixels of
//! resizes of every kind (×2, 1280→1920, 1920→640, odd sizes; both filters): run natively, the
//! example prints the same digest, so the browser's pixels can be checked against the AVX2 build's.
//!
//! ```sh
//! RUSTFLAGS="-C target-feature=+simd128 -C link-arg=--export=kbench -C link-arg=--export=kdigest" \
//!   cargo build --release -p kino-shared --example wasm_resize_bench --target wasm32-unknown-unknown
//! node -e 'const e = new WebAssembly.Instance(new WebAssembly.Module(require("fs").readFileSync(
//!   process.argv[1]))).exports; for (const f of [0, 1]) { e.kbench(1, f);
//!   const t = performance.now(); e.kbench(5, f); const u = performance.now(); e.kbench(0, f);
//!   console.log(f ? "bicubic" : "lanczos3", ((u - t - (performance.now() - u)) / 5).toFixed(2),
//!   "ms/frame") } console.log("digest",
//!   BigInt.asUintN(64, e.kdigest()).toString(16))' \
//!   "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/examples/wasm_resize_bench.wasm"
//! cargo run --release -p kino-shared --example wasm_resize_bench   # the native digest
//! ```

use kino_shared::kernels::resize;
use kino_shared::{ChromaLayout, ColourInfo, Frame, ResizeFilter, Samples};

/// `kernel_bench`'s test picture: noisy ramps.
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

/// Resizes the test frame ×2 `n` times; the sum of each output's middle luma sample.
#[no_mangle]
pub extern "C" fn kbench(n: u32, filter: u32) -> u32 {
    let src = picture(1920, 1080);
    let filter = if filter == 0 {
        ResizeFilter::Lanczos3
    } else {
        ResizeFilter::Bicubic
    };
    let mut sum = 0u32;
    for _ in 0..n {
        let out = resize::resize(&src, 3840, 2160, filter);
        if let Samples::U8(d) = &out.planes[0].samples {
            sum = sum.wrapping_add(u32::from(d[d.len() / 2]));
        }
    }
    sum
}

/// FNV-1a 64 over the samples of resizes of every kind, luma and 4:2:0 chroma.
#[no_mangle]
pub extern "C" fn kdigest() -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for ((sw, sh), (dw, dh)) in [
        ((640, 360), (1280, 720)),
        ((1280, 720), (1920, 1080)),
        ((1920, 1080), (640, 360)),
        ((333, 217), (517, 301)),
        ((517, 301), (333, 217)),
    ] {
        let src = picture(sw, sh);
        for filter in [ResizeFilter::Lanczos3, ResizeFilter::Bicubic] {
            for p in &resize::resize(&src, dw, dh, filter).planes {
                if let Samples::U8(d) = &p.samples {
                    for &v in d {
                        h = (h ^ u64::from(v)).wrapping_mul(0x0000_0100_0000_01b3);
                    }
                }
            }
        }
    }
    h
}

fn main() {
    println!("digest {:x}", kdigest());
}
