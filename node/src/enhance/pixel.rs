//! Stages that work on one frame at a time through the shared kernels (what the browser previews).

use super::{Analysis, Stage, StageError};
use crate::media::hdr::{HdrMeta, Mastering};
use kino_shared::kernels::color;
use kino_shared::kernels::{denoise, resize, sharpen, tonemap};
use kino_shared::{ColorParams, Frame, HdrMode, HdrParams, Sar, ScaleParams, SharpenParams};
use std::sync::Arc;

pub struct Scale {
    params: ScaleParams,
    /// The input's pixel aspect ratio: sizes are display sizes.
    sar: Sar,
}

impl Scale {
    pub fn new(params: ScaleParams, sar: Sar) -> Self {
        Scale { params, sar }
    }
}

impl Stage for Scale {
    fn name(&self) -> &'static str {
        "scale"
    }
    fn output_sar(&self, input: Sar) -> Sar {
        self.params.output_sar(input)
    }
    fn process(&mut self, window: &[&Frame], current: usize, _: i64) -> Result<Frame, StageError> {
        let f = window[current];
        let align = resize::alignment(f.layout);
        let (w, h, _) = self
            .params
            .target(f.width as u32, f.height as u32, self.sar, align)?;
        Ok(resize::resize(
            f,
            w as usize,
            h as usize,
            self.params.filter,
        ))
    }
}

/// Colour: automatic corrections come smoothed from the analysis pass, looked up by timestamp.
pub struct Color {
    params: ColorParams,
    analysis: Option<Arc<Analysis>>,
}

impl Color {
    pub fn new(params: ColorParams, analysis: Option<Arc<Analysis>>) -> Result<Self, StageError> {
        let analysis = if params.is_auto() {
            Some(super::required(analysis, "color")?)
        } else {
            analysis
        };
        Ok(Color { params, analysis })
    }
}

impl Stage for Color {
    fn name(&self) -> &'static str {
        "color"
    }
    fn process(
        &mut self,
        window: &[&Frame],
        current: usize,
        pts: i64,
    ) -> Result<Frame, StageError> {
        let mut f = window[current].clone();
        let auto = self
            .analysis
            .as_ref()
            .and_then(|a| a.colour.get(&pts).copied())
            .unwrap_or_default();
        color::grade(&mut f, &self.params, &auto);
        Ok(f)
    }
}

pub struct Sharpen(pub SharpenParams);

impl Stage for Sharpen {
    fn name(&self) -> &'static str {
        "sharpen"
    }
    fn process(&mut self, window: &[&Frame], current: usize, _: i64) -> Result<Frame, StageError> {
        let f = window[current];
        // Without a threshold, detail within twice the noise level counts as noise.
        let threshold = self
            .0
            .threshold
            .unwrap_or_else(|| (2.0 * denoise::estimate_sigma(f)).max(1.0));
        Ok(sharpen::sharpen(
            f,
            &sharpen::SharpenSettings {
                amount: self.0.amount,
                radius: self.0.radius,
                threshold,
            },
        ))
    }
}

/// HDR conversion; the output's HDR10 metadata follows (cleared for SDR, the expansion's for HDR).
pub struct Hdr {
    params: HdrParams,
    source_peak: f32,
    /// Lookup tables, built at the first frame.
    to_sdr: Option<tonemap::ToneMapper>,
    to_hdr: Option<tonemap::InverseToneMapper>,
}

impl Hdr {
    pub fn new(params: HdrParams, source: HdrMeta) -> Self {
        // MaxCLL describes the content; the mastering peak only bounds it.
        let from_meta = source
            .cll
            .map(|(max_cll, _)| max_cll as f32)
            .filter(|v| *v > 0.0)
            .or_else(|| {
                source
                    .mastering
                    .map(|m| m.max_lum as f32 / 10_000.0)
                    .filter(|v| *v > 0.0)
            });
        let source_peak = params.peak_nits.or(from_meta).unwrap_or(1000.0);
        Hdr {
            params,
            source_peak,
            to_sdr: None,
            to_hdr: None,
        }
    }

    fn output_peak(&self) -> f32 {
        self.params.peak_nits.unwrap_or(1000.0)
    }
}

impl Stage for Hdr {
    fn name(&self) -> &'static str {
        "hdr"
    }
    fn output_hdr(&self, _input: HdrMeta) -> HdrMeta {
        match self.params.mode {
            HdrMode::ToSdr => HdrMeta::default(),
            HdrMode::ToHdr => {
                let peak = self.output_peak();
                HdrMeta {
                    // BT.2020 primaries, D65, in the 1/50000 units of the SEI.
                    mastering: Some(Mastering {
                        g: (8500, 39850),
                        b: (6550, 2300),
                        r: (35400, 14600),
                        wp: (15635, 16450),
                        max_lum: (peak * 10_000.0) as u32,
                        min_lum: 50,
                    }),
                    cll: Some((peak as u32, 400.min(peak as u32))),
                }
            }
        }
    }
    fn process(&mut self, window: &[&Frame], current: usize, _: i64) -> Result<Frame, StageError> {
        let f = window[current];
        match self.params.mode {
            HdrMode::ToSdr => {
                if tonemap::is_hdr(&f.colour).is_none() {
                    return Err(StageError::Failed {
                        stage: "hdr",
                        message: format!(
                            "to_sdr needs PQ or HLG input; this video's transfer is {}",
                            f.colour.transfer
                        ),
                    });
                }
                let peak = self.source_peak;
                let m = self.to_sdr.get_or_insert_with(|| {
                    tonemap::ToneMapper::new(&tonemap::ToneMapParams {
                        source_peak_nits: peak,
                        // BT.2408: HDR reference white (203 cd/m²) becomes SDR white.
                        target_peak_nits: 203.0,
                        bit_depth: 8,
                    })
                });
                Ok(m.apply(f))
            }
            HdrMode::ToHdr => {
                if tonemap::is_hdr(&f.colour).is_some() {
                    return Err(StageError::Failed {
                        stage: "hdr",
                        message: "to_hdr needs SDR input; this video is already HDR".into(),
                    });
                }
                let peak = self.output_peak();
                let m = self.to_hdr.get_or_insert_with(|| {
                    tonemap::InverseToneMapper::new(&tonemap::InverseToneMapParams {
                        peak_nits: peak,
                        ..Default::default()
                    })
                });
                Ok(m.apply(f))
            }
        }
    }
}
