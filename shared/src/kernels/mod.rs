//! Per-frame pixel work that must look identical in the browser preview and the final render.

pub mod color;
pub mod content;
pub mod denoise;
pub mod metrics;
pub mod motion;
mod portable;
pub mod resize;
mod resize_int;
pub mod scene;
pub mod sharpen;
pub mod steady;
pub mod tonemap;
pub mod warp;

/// A sample type the kernels work on (8-bit and 16-bit storage).
pub trait Sample: Copy + Send + Sync + 'static {
    fn to_f32(self) -> f32;
    fn to_u32(self) -> u32;
    fn from_u32(v: u32) -> Self;
}

impl Sample for u8 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn to_u32(self) -> u32 {
        self as u32
    }
    #[inline(always)]
    fn from_u32(v: u32) -> Self {
        v as u8
    }
}

impl Sample for u16 {
    #[inline(always)]
    fn to_f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn to_u32(self) -> u32 {
        self as u32
    }
    #[inline(always)]
    fn from_u32(v: u32) -> Self {
        v as u16
    }
}

/// Runs `f` over chunks of rows, in parallel with the `parallel` feature.
pub(crate) fn for_rows<T: Send>(
    out: &mut [T],
    row_len: usize,
    f: impl Fn(usize, &mut [T]) + Send + Sync,
) {
    if row_len == 0 {
        return;
    }
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        out.par_chunks_mut(row_len)
            .enumerate()
            .for_each(|(y, row)| f(y, row));
    }
    #[cfg(not(feature = "parallel"))]
    {
        out.chunks_mut(row_len)
            .enumerate()
            .for_each(|(y, row)| f(y, row));
    }
}

std::thread_local! {
    /// Intermediate f32 planes kept for this thread's next frame.
    static PLANES: std::cell::RefCell<Vec<Vec<f32>>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Intermediate i16 planes (the 8-bit resize's fixed point) kept for this thread's next frame.
    static PLANES_I16: std::cell::RefCell<Vec<Vec<i16>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A value of intermediate planes: f32 for the float kernels, i16 for the 8-bit resize. Each type
/// has its own pool, so the one type's planes never stand in for the other's.
pub(crate) trait PlaneValue: Copy + Default + 'static {
    /// Runs `f` on this thread's kept planes of this type.
    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<Self>>) -> R) -> R;
}

impl PlaneValue for f32 {
    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<f32>>) -> R) -> R {
        PLANES.with(|p| f(&mut p.borrow_mut()))
    }
}

impl PlaneValue for i16 {
    fn with_pool<R>(f: impl FnOnce(&mut Vec<Vec<i16>>) -> R) -> R {
        PLANES_I16.with(|p| f(&mut p.borrow_mut()))
    }
}

/// Intermediate planes a thread keeps of each type: sharpen holds two f32 planes at once, resize
/// one (f32 at 10 bits, i16 at 8). A thread that lives on (a server's) keeps at most two f32 planes
/// of the largest frame it filtered (66 MB at 4K), and two i16 ones (half that).
const KEPT_PLANES: usize = 2;

/// A plane of `len` values for a kernel's intermediate result, from this thread's pool: every
/// frame of a video needs the same sizes, and allocating and zeroing megabytes per frame cost 5 %
/// of a 1080p→4K render (profiled). The contents are stale: callers write every value before
/// reading it. Give it back with `recycle`.
pub(crate) fn plane_buffer<T: PlaneValue>(len: usize) -> Vec<T> {
    let mut b = T::with_pool(|p| {
        // The smallest that fits, else the largest (grown once).
        let fit = (0..p.len())
            .filter(|&i| p[i].capacity() >= len)
            .min_by_key(|&i| p[i].capacity())
            .or_else(|| (0..p.len()).max_by_key(|&i| p[i].capacity()));
        fit.map(|i| p.swap_remove(i))
    })
    .unwrap_or_default();
    b.resize(len, T::default());
    b
}

/// Gives a buffer from `plane_buffer` back for the next frame.
pub(crate) fn recycle<T: PlaneValue>(b: Vec<T>) {
    T::with_pool(|p| {
        if p.len() < KEPT_PLANES {
            p.push(b);
        }
    });
}

/// Whether the CPU runs the kernels' AVX2 builds (built without FMA, so their sums and pixels
/// equal the plain build's and the browser's).
pub(crate) fn use_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// `line` as f32 with `pad` copies of its edge samples on each side, into `out`: filters then read
/// whole taps without clamping an index per tap.
#[inline(always)]
pub(crate) fn pad_row<T: Sample>(out: &mut Vec<f32>, line: &[T], pad: usize) {
    let w = line.len();
    out.clear();
    out.resize(pad, line[0].to_f32());
    out.extend(line.iter().map(|v| v.to_f32()));
    out.resize(w + 2 * pad, line[w - 1].to_f32());
}
