//! The denoise stage: a window of ±`temporal_radius` frames around each frame, the noise level
//! estimated per frame (auto) or given (manual).

use super::{Margin, Stage, StageError};
use kino_shared::kernels::denoise::{self, DenoiseSettings};
use kino_shared::{DenoiseMode, DenoiseParams, Frame};

pub struct Denoise(DenoiseParams);

impl Denoise {
    pub fn new(p: DenoiseParams) -> Self {
        Denoise(p)
    }
}

impl Stage for Denoise {
    fn name(&self) -> &'static str {
        "denoise"
    }
    fn margin(&self) -> Margin {
        let r = self.0.temporal_radius as usize;
        Margin {
            before: r,
            after: r,
        }
    }
    fn process(&mut self, window: &[&Frame], current: usize, _: i64) -> Result<Frame, StageError> {
        let sigma = match self.0.mode {
            DenoiseMode::Manual => self.0.sigma,
            DenoiseMode::Auto => denoise::estimate_sigma(window[current]),
        };
        Ok(denoise::denoise(
            window,
            current,
            &DenoiseSettings {
                sigma,
                strength: self.0.strength,
            },
        ))
    }
}
