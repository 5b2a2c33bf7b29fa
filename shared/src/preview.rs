//! One frame through the per-frame stages, for the editor's before/after preview: RGBA pixels (what a
//! browser canvas holds) → 8-bit BT.709 Y'CbCr 4:4:4 → the stages, as the node runs them → RGBA.
//! The node's `/api/preview` takes the same conversion and runs its own stage code, so the two can be
//! compared pixel for pixel.

use crate::api::StageSpec;
use crate::frame::{ChromaLayout, ColourInfo, Frame, Plane, Samples};
use crate::kernels::{color, denoise, resize, sharpen};
use thiserror::Error;

/// Why a frame cannot be previewed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PreviewError {
    #[error("{0}")]
    Spec(#[from] crate::api::SpecError),
    #[error(
        "the {0} stage needs neighbouring frames or the whole video; only the node renders it"
    )]
    NotPerFrame(&'static str),
    #[error(
        "{width}x{height} is larger than the preview handles (8K UHD, {MAX_PREVIEW_PIXELS} pixels)"
    )]
    TooLarge { width: usize, height: usize },
    #[error("pixel buffer holds {got} bytes, a {width}x{height} RGBA frame needs {want}")]
    Size {
        width: usize,
        height: usize,
        got: usize,
        want: usize,
    },
}

/// Largest frame previewed, before or after scaling (8K UHD): bounds memory in the page and node.
pub const MAX_PREVIEW_PIXELS: usize = 7680 * 4320;

/// BT.709 luma weights.
const KR: f32 = 0.2126;
const KB: f32 = 0.0722;

/// Colour tags of the preview frame: BT.709, limited range, like most video the editor opens.
pub const PREVIEW_COLOUR: ColourInfo = ColourInfo {
    full_range: false,
    matrix: 1,
    transfer: 1,
    primaries: 1,
    chroma_center: false,
};

/// A coefficient in 16.16 fixed point: integer arithmetic is exact on every target and several
/// times faster than float in WebAssembly.
const fn fx(v: f32) -> i32 {
    (v * 65536.0 + 0.5) as i32
}

const KG: f32 = 1.0 - KR - KB;
/// R'G'B' → Y'CbCr rows (limited range scale folded in).
const Y_C: [i32; 3] = [
    fx(KR * 219.0 / 255.0),
    fx(KG * 219.0 / 255.0),
    fx(KB * 219.0 / 255.0),
];
const CB_S: f32 = 224.0 / 255.0 / (2.0 * (1.0 - KB));
const CR_S: f32 = 224.0 / 255.0 / (2.0 * (1.0 - KR));
const CB_C: [i32; 3] = [fx(-KR * CB_S), fx(-KG * CB_S), fx((1.0 - KB) * CB_S)];
const CR_C: [i32; 3] = [fx((1.0 - KR) * CR_S), fx(-KG * CR_S), fx(-KB * CR_S)];
/// Y'CbCr → R'G'B'.
const L_S: i32 = fx(255.0 / 219.0);
const R_V: i32 = fx(2.0 * (1.0 - KR) * 255.0 / 224.0);
const B_U: i32 = fx(2.0 * (1.0 - KB) * 255.0 / 224.0);
const G_U: i32 = fx(2.0 * (1.0 - KB) * KB / KG * 255.0 / 224.0);
const G_V: i32 = fx(2.0 * (1.0 - KR) * KR / KG * 255.0 / 224.0);
const HALF: i32 = 1 << 15;

/// RGBA (alpha ignored) → limited-range BT.709 Y'CbCr 4:4:4, 8-bit.
pub fn rgba_to_frame(rgba: &[u8], width: usize, height: usize) -> Result<Frame, PreviewError> {
    if width.saturating_mul(height) > MAX_PREVIEW_PIXELS {
        return Err(PreviewError::TooLarge { width, height });
    }
    let want = width * height * 4;
    if rgba.len() != want || width == 0 || height == 0 {
        return Err(PreviewError::Size {
            width,
            height,
            got: rgba.len(),
            want,
        });
    }
    let n = width * height;
    let (mut y, mut cb, mut cr) = (vec![0u8; n], vec![0u8; n], vec![0u8; n]);
    let dot = |c: &[i32; 3], r: i32, g: i32, b: i32| c[0] * r + c[1] * g + c[2] * b;
    for (((px, y), cb), cr) in rgba
        .chunks_exact(4)
        .zip(y.iter_mut())
        .zip(cb.iter_mut())
        .zip(cr.iter_mut())
    {
        let (r, g, b) = (px[0] as i32, px[1] as i32, px[2] as i32);
        // Always inside 16…240: no clamping needed.
        *y = ((dot(&Y_C, r, g, b) + (16 << 16) + HALF) >> 16) as u8;
        *cb = ((dot(&CB_C, r, g, b) + (128 << 16) + HALF) >> 16) as u8;
        *cr = ((dot(&CR_C, r, g, b) + (128 << 16) + HALF) >> 16) as u8;
    }
    let plane = |samples| Plane {
        width,
        height,
        samples: Samples::U8(samples),
    };
    Ok(Frame {
        width,
        height,
        layout: ChromaLayout::Yuv444,
        bit_depth: 8,
        planes: vec![plane(y), plane(cb), plane(cr)],
        colour: PREVIEW_COLOUR,
    })
}

/// An 8-bit 4:4:4 frame (what [`rgba_to_frame`] and the per-frame stages give) → opaque RGBA.
pub fn frame_to_rgba(f: &Frame) -> Vec<u8> {
    let get = |i: usize| match &f.planes.get(i).map(|p| &p.samples) {
        Some(Samples::U8(d)) => Some(d.as_slice()),
        _ => None,
    };
    let n = f.width * f.height;
    let mut out = vec![255u8; n * 4];
    let (Some(y), Some(cb), Some(cr)) = (get(0), get(1), get(2)) else {
        return out;
    };
    let byte = |v: i32| ((v + HALF) >> 16).clamp(0, 255) as u8;
    for (((px, &y), &u), &v) in out.chunks_exact_mut(4).zip(y).zip(cb).zip(cr) {
        let l = (y as i32 - 16) * L_S;
        let (u, v) = (u as i32 - 128, v as i32 - 128);
        px[0] = byte(l + R_V * v);
        px[1] = byte(l - G_U * u - G_V * v);
        px[2] = byte(l + B_U * u);
    }
    out
}

/// Whether the browser can preview `stage` on one frame (a neural upscale needs the node's network).
pub fn is_per_frame(stage: &StageSpec) -> bool {
    match stage {
        StageSpec::Scale(p) => p.model.is_none(),
        // The browser shows the frame as it decodes it; deinterlacing happens on the node's fields.
        StageSpec::Color(_) | StageSpec::Sharpen(_) | StageSpec::Deinterlace(_) => true,
        _ => false,
    }
}

/// Runs the per-frame stages on one frame exactly as the node's stages do. Automatic colour uses
/// this frame's own measurement, taken as the analysis pass takes it (on the decoded frame, before
/// any stage); the render also smooths it over a second within the scene.
pub fn apply(frame: &Frame, stages: &[StageSpec]) -> Result<Frame, PreviewError> {
    let stats = stages
        .iter()
        .any(|s| matches!(s, StageSpec::Color(p) if p.is_auto()))
        .then(|| color::stats(frame));
    let mut f = frame.clone();
    for stage in stages {
        f = match stage {
            StageSpec::Scale(p) if p.model.is_none() => {
                let align = resize::alignment(f.layout);
                let (w, h) = p.target_size(f.width as u32, f.height as u32, align)?;
                let (w, h) = (w as usize, h as usize);
                if w * h > MAX_PREVIEW_PIXELS {
                    return Err(PreviewError::TooLarge {
                        width: w,
                        height: h,
                    });
                }
                resize::resize(&f, w, h, p.filter)
            }
            StageSpec::Color(p) => {
                let auto = match (&stats, p.is_auto()) {
                    (Some(s), true) => color::AutoCorrection::from_stats(s, p),
                    _ => color::AutoCorrection::default(),
                };
                color::grade(&mut f, p, &auto);
                f
            }
            StageSpec::Sharpen(p) => {
                // As the node: without a threshold, detail within twice the noise counts as noise.
                let threshold = p
                    .threshold
                    .unwrap_or_else(|| (2.0 * denoise::estimate_sigma(&f)).max(1.0));
                sharpen::sharpen(
                    &f,
                    &sharpen::SharpenSettings {
                        amount: p.amount,
                        radius: p.radius,
                        threshold,
                    },
                )
            }
            StageSpec::Deinterlace(_) => f,
            other => return Err(PreviewError::NotPerFrame(other.name())),
        };
    }
    Ok(f)
}

/// RGBA in, RGBA out (with the output size): what the editor's "after" canvas shows.
pub fn process_rgba(
    rgba: &[u8],
    width: usize,
    height: usize,
    stages: &[StageSpec],
) -> Result<(Vec<u8>, usize, usize), PreviewError> {
    let f = apply(&rgba_to_frame(rgba, width, height)?, stages)?;
    Ok((frame_to_rgba(&f), f.width, f.height))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ColorParams, ScaleParams, StabilizeParams};

    fn gradient(w: usize, h: usize) -> Vec<u8> {
        (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [
                    (x * 255 / w) as u8,
                    (y * 255 / h) as u8,
                    ((x + y) % 256) as u8,
                    255,
                ]
            })
            .collect()
    }

    #[test]
    fn round_trip_is_within_two_codes() {
        let src = gradient(64, 48);
        let back = frame_to_rgba(&rgba_to_frame(&src, 64, 48).unwrap());
        let worst = src.iter().zip(&back).map(|(a, b)| a.abs_diff(*b)).max();
        assert!(worst <= Some(2), "worst {worst:?}");
    }

    #[test]
    fn colour_changes_pixels_and_scale_changes_size() {
        let src = gradient(64, 48);
        let sat = [StageSpec::Color(ColorParams {
            saturation: 2.0,
            ..Default::default()
        })];
        let (out, w, h) = process_rgba(&src, 64, 48, &sat).unwrap();
        assert_eq!((w, h), (64, 48));
        assert_ne!(out, frame_to_rgba(&rgba_to_frame(&src, 64, 48).unwrap()));
        let half = [StageSpec::Scale(ScaleParams {
            factor: Some(0.5),
            ..Default::default()
        })];
        let (out, w, h) = process_rgba(&src, 64, 48, &half).unwrap();
        assert_eq!((w, h, out.len()), (32, 24, 32 * 24 * 4));
    }

    #[test]
    fn bad_input_is_explained() {
        let e = process_rgba(&[0; 10], 2, 2, &[]).unwrap_err();
        assert!(e.to_string().contains("needs 16"), "{e}");
        let stab = [StageSpec::Stabilize(StabilizeParams::default())];
        let e = process_rgba(&gradient(4, 4), 4, 4, &stab).unwrap_err();
        assert_eq!(e, PreviewError::NotPerFrame("stabilize"));
    }
}
