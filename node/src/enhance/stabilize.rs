//! The stabilise stage: warps each frame by the correction the analysis pass computed for it (from
//! the trajectory smoothed over the whole video) and zooms to hide the borders.

use super::{Analysis, Stage, StageError};
use kino_shared::kernels::warp::{self, EdgeFill};
use kino_shared::{Frame, StabilizeParams};
use std::sync::Arc;

pub struct Stabilize {
    params: StabilizeParams,
    analysis: Arc<Analysis>,
}

impl Stabilize {
    pub fn new(
        params: StabilizeParams,
        analysis: Option<Arc<Analysis>>,
    ) -> Result<Self, StageError> {
        Ok(Stabilize {
            params,
            analysis: super::required(analysis, "stabilize")?,
        })
    }
}

impl Stage for Stabilize {
    fn name(&self) -> &'static str {
        "stabilize"
    }
    fn process(
        &mut self,
        window: &[&Frame],
        current: usize,
        pts: i64,
    ) -> Result<Frame, StageError> {
        let f = window[current];
        let mut c = self
            .analysis
            .stabilize
            .get(&pts)
            .copied()
            .unwrap_or_default();
        // Corrections are in the analysed frame's pixels; an earlier resize scales them.
        if self.analysis.width > 0 && f.width != self.analysis.width {
            let k = f.width as f32 / self.analysis.width as f32;
            c.dx *= k;
            c.dy *= k;
        }
        let fill = match self.params.edge {
            kino_shared::EdgeFill::Black => EdgeFill::Black,
            kino_shared::EdgeFill::Clamp => EdgeFill::Clamp,
        };
        Ok(warp::warp(f, &c, self.analysis.zoom, fill))
    }
}
