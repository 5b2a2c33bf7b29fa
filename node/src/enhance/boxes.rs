//! The `detect` stage's rendering: blurs the chosen classes' tracked boxes (padded) and draws boxes
//! with labels, from the tracks the analysis pass found. The detection itself happens in the
//! analysis pass, so here every frame only looks its boxes up.

use super::{required, Analysis, Stage, StageError};
use crate::detect::draw;
use kino_shared::{DetectParams, Frame};
use std::sync::Arc;

pub struct DetectBoxes {
    params: DetectParams,
    blur: u128,
    analysis: Arc<Analysis>,
}

impl DetectBoxes {
    pub fn new(params: DetectParams, analysis: Option<Arc<Analysis>>) -> Result<Self, StageError> {
        Ok(DetectBoxes {
            blur: params.blur_mask(),
            params,
            analysis: required(analysis, "detect")?,
        })
    }
}

impl Stage for DetectBoxes {
    fn name(&self) -> &'static str {
        "detect"
    }

    fn process(
        &mut self,
        window: &[&Frame],
        current: usize,
        pts: i64,
    ) -> Result<Frame, StageError> {
        let mut f = window[current].clone();
        if self.blur == 0 && !self.params.draw {
            return Ok(f);
        }
        // Between two detection frames a box is interpolated; past a track's ends it is held for
        // the frames up to the neighbouring detection frame.
        let hold = self.params.every.saturating_sub(1) as u64;
        let boxes = self.analysis.boxes_at(pts, hold);
        for b in boxes.iter().filter(|b| self.blur >> b.class & 1 == 1) {
            draw::blur(&mut f, draw::padded(b.rect, self.params.blur_padding));
        }
        if self.params.draw {
            for b in &boxes {
                draw::draw(&mut f, b);
            }
        }
        Ok(f)
    }
}
