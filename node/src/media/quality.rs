//! How close a picture is to its reference: PSNR and SSIM as FFmpeg's filters compute them
//! (`kino_shared::kernels::metrics`), and SSIMULACRA2 (the `ssimulacra2` crate, the score Av1an
//! targets), which follows what people see better than either.

use crate::models::rgb::to_planar;
use kino_shared::kernels::metrics::MetricError;
use kino_shared::Frame;
use ssimulacra2::{compute_frame_ssimulacra2, ColorPrimaries, Rgb, TransferCharacteristic};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum QualityError {
    #[error(transparent)]
    Metric(#[from] MetricError),
    #[error("SSIMULACRA2: {0}")]
    Ssimulacra2(String),
}

/// SSIMULACRA2 of `distorted` against `reference` (100: identical; 90 visually lossless, 70 high
/// quality, 50 medium, below 30 low, by the metric's own scale).
pub fn ssimulacra2(reference: &Frame, distorted: &Frame) -> Result<f64, QualityError> {
    let err = |e: String| QualityError::Ssimulacra2(e);
    let a = rgb(reference).map_err(err)?;
    let b = rgb(distorted).map_err(err)?;
    compute_frame_ssimulacra2(a, b).map_err(|e| QualityError::Ssimulacra2(e.to_string()))
}

/// SSIMULACRA2 of two sRGB pictures (`width`×`height` pixels of R, G, B in 0…1), e.g. photos.
pub fn ssimulacra2_srgb(
    width: usize,
    height: usize,
    reference: Vec<[f32; 3]>,
    distorted: Vec<[f32; 3]>,
) -> Result<f64, QualityError> {
    let picture = |data| {
        Rgb::new(
            data,
            width,
            height,
            TransferCharacteristic::SRGB,
            ColorPrimaries::BT709,
        )
        .map_err(|e| QualityError::Ssimulacra2(e.to_string()))
    };
    compute_frame_ssimulacra2(picture(reference)?, picture(distorted)?)
        .map_err(|e| QualityError::Ssimulacra2(e.to_string()))
}

/// The frame as gamma-encoded RGB with its own transfer and primaries (the crate linearises).
fn rgb(f: &Frame) -> Result<Rgb, String> {
    let planar = to_planar(f);
    let n = f.width * f.height;
    let data = (0..n)
        .map(|i| [planar[i], planar[n + i], planar[2 * n + i]])
        .collect();
    Rgb::new(data, f.width, f.height, transfer(f), primaries(f)).map_err(|e| e.to_string())
}

/// H.273 transfer code points; unspecified is taken as BT.709 (BT.1886), as players do.
fn transfer(f: &Frame) -> TransferCharacteristic {
    match f.colour.transfer {
        4 => TransferCharacteristic::BT470M,
        5 => TransferCharacteristic::BT470BG,
        6 => TransferCharacteristic::ST170M,
        7 => TransferCharacteristic::ST240M,
        8 => TransferCharacteristic::Linear,
        13 => TransferCharacteristic::SRGB,
        14 => TransferCharacteristic::BT2020Ten,
        15 => TransferCharacteristic::BT2020Twelve,
        16 => TransferCharacteristic::PerceptualQuantizer,
        18 => TransferCharacteristic::HybridLogGamma,
        _ => TransferCharacteristic::BT1886,
    }
}

/// H.273 colour primaries; unspecified is taken as BT.709.
fn primaries(f: &Frame) -> ColorPrimaries {
    match f.colour.primaries {
        5 => ColorPrimaries::BT470BG,
        6 => ColorPrimaries::ST170M,
        7 => ColorPrimaries::ST240M,
        9 => ColorPrimaries::BT2020,
        _ => ColorPrimaries::BT709,
    }
}
