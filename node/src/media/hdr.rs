//! HDR10 static metadata (mastering display colour volume, content light level) read from decoded
//! frames and handed to x264/x265, whose FFmpeg 5.1 wrappers do not pass it on by themselves.

use super::ffmpeg;
use ffmpeg::util::frame::side_data::Type;
use ffmpeg::util::frame::Video as AvFrame;

/// Mastering display in the units HEVC/AVC SEI use: chromaticities in 1/50000, luminance in 1/10000 cd/m².
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mastering {
    /// (x, y) of green, blue, red, then the white point.
    pub g: (u32, u32),
    pub b: (u32, u32),
    pub r: (u32, u32),
    pub wp: (u32, u32),
    pub max_lum: u32,
    pub min_lum: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HdrMeta {
    pub mastering: Option<Mastering>,
    /// MaxCLL, MaxFALL in cd/m².
    pub cll: Option<(u32, u32)>,
}

fn rational(words: &[i32], i: usize) -> f64 {
    let (n, d) = (words[2 * i], words[2 * i + 1]);
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

impl HdrMeta {
    /// Reads the side data FFmpeg's decoders attach to frames (from SEI or the container).
    pub fn from_frame(f: &AvFrame) -> HdrMeta {
        let mut meta = HdrMeta::default();
        if let Some(sd) = f.side_data(Type::MasteringDisplayMetadata) {
            // AVMasteringDisplayMetadata: 10 AVRationals (primaries RGB xy, white xy, min, max lum),
            // then has_primaries, has_luminance.
            let bytes = sd.data();
            if bytes.len() >= 88 {
                let w: Vec<i32> = bytes[..88]
                    .chunks_exact(4)
                    .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                if w[20] != 0 && w[21] != 0 {
                    let c = |i: usize| (rational(&w, i) * 50000.0).round() as u32;
                    let l = |i: usize| (rational(&w, i) * 10000.0).round() as u32;
                    meta.mastering = Some(Mastering {
                        r: (c(0), c(1)),
                        g: (c(2), c(3)),
                        b: (c(4), c(5)),
                        wp: (c(6), c(7)),
                        min_lum: l(8),
                        max_lum: l(9),
                    });
                }
            }
        }
        if let Some(sd) = f.side_data(Type::ContentLightLevel) {
            let b = sd.data();
            if b.len() >= 8 {
                meta.cll = Some((
                    u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                    u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
                ));
            }
        }
        meta
    }

    pub fn is_empty(&self) -> bool {
        self.mastering.is_none() && self.cll.is_none()
    }

    /// Parameters for x264 (`x264-params`) or x265 (`x265-params`), ':'-separated.
    pub fn encoder_params(&self, x265: bool) -> String {
        let mut p = Vec::new();
        if let Some(m) = self.mastering {
            let v = format!(
                "G({},{})B({},{})R({},{})WP({},{})L({},{})",
                m.g.0, m.g.1, m.b.0, m.b.1, m.r.0, m.r.1, m.wp.0, m.wp.1, m.max_lum, m.min_lum
            );
            p.push(if x265 {
                format!("master-display={v}")
            } else {
                format!("mastering-display={v}")
            });
        }
        if let Some((cll, fall)) = self.cll {
            p.push(if x265 {
                format!("max-cll={cll},{fall}")
            } else {
                format!("cll={cll},{fall}")
            });
        }
        p.join(":")
    }
}
