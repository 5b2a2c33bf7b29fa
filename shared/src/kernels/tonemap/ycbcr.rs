//! Y'CbCr ↔ R'G'B' for the H.273 matrices. Kept apart from the gamut maths: the Y'CbCr matrix is
//! picked per frame from its tag, while the primaries are fixed by the direction of the mapping.

use super::lanes::{lanes, Lanes};
use super::{KRKB_2020, KRKB_709};

/// (Kr, Kb) of an H.273 matrix code point, if it is a Y'CbCr matrix this module knows.
pub(super) fn kr_kb(matrix: u8) -> Option<(f32, f32)> {
    match matrix {
        1 => Some(KRKB_709),
        4 => Some((0.30, 0.11)),
        5 | 6 => Some((0.299, 0.114)),
        7 => Some((0.212, 0.087)),
        9 | 10 => Some(KRKB_2020),
        _ => None,
    }
}

/// Y'CbCr → R'G'B' for one matrix.
pub(super) struct Decode {
    rv: f32,
    gu: f32,
    gv: f32,
    bu: f32,
}

impl Decode {
    pub(super) fn new((kr, kb): (f32, f32)) -> Decode {
        let kg = 1.0 - kr - kb;
        Decode {
            rv: 2.0 * (1.0 - kr),
            gu: 2.0 * kb * (1.0 - kb) / kg,
            gv: 2.0 * kr * (1.0 - kr) / kg,
            bu: 2.0 * (1.0 - kb),
        }
    }

    /// What Cb, Cr add to Y' for each of R', G', B' (computed once per chroma sample).
    #[inline(always)]
    pub(super) fn offsets(&self, cb: f32, cr: f32) -> [f32; 3] {
        [self.rv * cr, -(self.gu * cb + self.gv * cr), self.bu * cb]
    }
}

/// R'G'B' → Y'CbCr for one matrix.
pub(super) struct Encode {
    kr: f32,
    kg: f32,
    kb: f32,
    /// 1 / (2 (1 - Kb)) and 1 / (2 (1 - Kr)).
    su: f32,
    sv: f32,
}

impl Encode {
    const fn new((kr, kb): (f32, f32)) -> Encode {
        Encode {
            kr,
            kg: 1.0 - kr - kb,
            kb,
            su: 0.5 / (1.0 - kb),
            sv: 0.5 / (1.0 - kr),
        }
    }

    #[inline(always)]
    pub(super) fn ycc(&self, [r, g, b]: &[Lanes; 3]) -> [Lanes; 3] {
        let y: Lanes = lanes(|j| self.kr * r[j] + self.kg * g[j] + self.kb * b[j]);
        [
            y,
            lanes(|j| (b[j] - y[j]) * self.su),
            lanes(|j| (r[j] - y[j]) * self.sv),
        ]
    }
}

pub(super) const ENCODE_709: Encode = Encode::new(KRKB_709);
pub(super) const ENCODE_2020: Encode = Encode::new(KRKB_2020);
