//! The frame both sides hold: planar YUV (or grey) at 8 or 16-bit storage, with its colour metadata.

use serde::{Deserialize, Serialize};

/// How chroma is subsampled; planar in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChromaLayout {
    Yuv420,
    Yuv422,
    Yuv444,
    /// Luma only.
    Gray,
}

impl ChromaLayout {
    /// log2 of the horizontal and vertical chroma subsampling.
    pub fn log2_subsampling(self) -> (u32, u32) {
        match self {
            ChromaLayout::Yuv420 => (1, 1),
            ChromaLayout::Yuv422 => (1, 0),
            ChromaLayout::Yuv444 | ChromaLayout::Gray => (0, 0),
        }
    }
    pub fn planes(self) -> usize {
        if self == ChromaLayout::Gray {
            1
        } else {
            3
        }
    }
    /// Size of chroma planes for a `w`×`h` picture (rounded up, as FFmpeg does).
    pub fn chroma_size(self, w: usize, h: usize) -> (usize, usize) {
        let (sx, sy) = self.log2_subsampling();
        (w.div_ceil(1 << sx), h.div_ceil(1 << sy))
    }
}

/// Colour metadata, carried through every stage so the encoder tags the output right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ColourInfo {
    /// True for full-range ("JPEG") samples, false for limited (16–235 at 8 bits).
    pub full_range: bool,
    /// ITU-T H.273 code points, as FFmpeg stores them (2 = unspecified).
    pub matrix: u8,
    pub transfer: u8,
    pub primaries: u8,
    /// 4:2:0/4:2:2 chroma sited between luma columns (JPEG/MPEG-1) rather than co-sited with the left
    /// one (MPEG-2/H.264, the default for video).
    #[serde(default)]
    pub chroma_center: bool,
}

/// Sample (pixel) aspect ratio: how wide one stored pixel is shown relative to its height. DV, DVD
/// and HDV store 4:3 or 16:9 pictures in non-square pixels (e.g. 1440×1080 at 4:3 shows as 1920×1080).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Sar {
    pub num: u32,
    pub den: u32,
}

impl Default for Sar {
    fn default() -> Self {
        Sar::SQUARE
    }
}

impl Sar {
    pub const SQUARE: Sar = Sar { num: 1, den: 1 };

    /// A reduced ratio; zero, negative or absent parts (FFmpeg's 0:1 "unknown") mean square pixels.
    pub fn new(num: i64, den: i64) -> Sar {
        if num <= 0 || den <= 0 || num > u32::MAX as i64 || den > u32::MAX as i64 {
            return Sar::SQUARE;
        }
        let g = gcd(num as u64, den as u64).max(1);
        Sar {
            num: (num as u64 / g) as u32,
            den: (den as u64 / g) as u32,
        }
    }

    pub fn is_square(self) -> bool {
        self.num == self.den
    }

    /// Width over height of one pixel.
    pub fn ratio(self) -> f64 {
        if self.num == 0 || self.den == 0 {
            1.0
        } else {
            self.num as f64 / self.den as f64
        }
    }

    /// The size a `width`×`height` picture is shown at (width stretched, height kept, as players do),
    /// rounded to whole pixels.
    pub fn display_size(self, width: u32, height: u32) -> (u32, u32) {
        (
            ((width as f64 * self.ratio()).round() as u32).max(1),
            height,
        )
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Plane samples; 16-bit storage holds 9–16-bit video in its low bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
}

/// One tightly packed plane (no stride padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub samples: Samples,
}

impl Plane {
    pub fn new_u8(width: usize, height: usize) -> Self {
        Plane {
            width,
            height,
            samples: Samples::U8(vec![0; width * height]),
        }
    }
    pub fn new_u16(width: usize, height: usize) -> Self {
        Plane {
            width,
            height,
            samples: Samples::U16(vec![0; width * height]),
        }
    }

    /// The samples as f32 (code values, whatever the storage), for float arithmetic in kernels.
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.samples {
            Samples::U8(d) => d.iter().map(|&v| v as f32).collect(),
            Samples::U16(d) => d.iter().map(|&v| v as f32).collect(),
        }
    }

    /// Stores float results back, rounded and clamped to `0..=max`, in the plane's own storage.
    pub fn set_from_f32(&mut self, values: impl IntoIterator<Item = f32>, max: f32) {
        match &mut self.samples {
            Samples::U8(d) => d
                .iter_mut()
                .zip(values)
                .for_each(|(s, v)| *s = (v + 0.5).clamp(0.0, max) as u8),
            Samples::U16(d) => d
                .iter_mut()
                .zip(values)
                .for_each(|(s, v)| *s = (v + 0.5).clamp(0.0, max) as u16),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub layout: ChromaLayout,
    /// Significant bits per sample (8, 10, 12 or 16).
    pub bit_depth: u8,
    pub planes: Vec<Plane>,
    pub colour: ColourInfo,
}

impl Frame {
    /// A black frame of the given geometry.
    pub fn new(
        width: usize,
        height: usize,
        layout: ChromaLayout,
        bit_depth: u8,
        colour: ColourInfo,
    ) -> Self {
        let (cw, ch) = layout.chroma_size(width, height);
        let (black, mid) = if colour.full_range {
            (0, 1u32 << (bit_depth - 1))
        } else {
            (16 << (bit_depth - 8), 128 << (bit_depth - 8))
        };
        let mut planes = Vec::with_capacity(layout.planes());
        for i in 0..layout.planes() {
            let (w, h, v) = if i == 0 {
                (width, height, black)
            } else {
                (cw, ch, mid)
            };
            let samples = if bit_depth > 8 {
                Samples::U16(vec![v as u16; w * h])
            } else {
                Samples::U8(vec![v as u8; w * h])
            };
            planes.push(Plane {
                width: w,
                height: h,
                samples,
            });
        }
        Frame {
            width,
            height,
            layout,
            bit_depth,
            planes,
            colour,
        }
    }

    /// A frame with this one's geometry and metadata holding `planes` (a kernel's output).
    pub fn with_planes(&self, planes: Vec<Plane>) -> Frame {
        Frame {
            width: self.width,
            height: self.height,
            layout: self.layout,
            bit_depth: self.bit_depth,
            planes,
            colour: self.colour,
        }
    }

    /// Largest sample value at this depth.
    pub fn max_value(&self) -> u32 {
        (1u32 << self.bit_depth) - 1
    }
}
