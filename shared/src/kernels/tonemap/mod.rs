//! HDR ↔ SDR conversion: PQ/HLG BT.2020 video to BT.709 SDR with the ITU-R BT.2390 EETF, and SDR
//! back up to PQ BT.2020 with a highlight expansion.
//!
//! Transfer functions run through dense tables built once per mapper, so the per-pixel path is only
//! IEEE basic arithmetic and table lookups: native and wasm32 give bit-identical output. The tables
//! are themselves built with a `pow`/`exp` made of basic f64 operations, because platform `powf`
//! may differ in the last bit between targets.

mod convert;
mod curves;
mod gamut;
mod lanes;
mod tables;
mod ycbcr;

use self::convert::convert;
use self::curves::{
    apply_curve, expand_curve, hlg_inverse_oetf, pq_eotf, pq_inverse_eotf, tone_curve, Eetf,
    HLG_PEAK,
};
use self::gamut::{
    into_gamut, invert, mul, rgb_to_xyz, to_f32, KRKB_2020_ROW, PRIMARIES_2020, PRIMARIES_709,
};
use self::lanes::{lanes, map3, mat, Lanes};
use self::tables::{LogTable, Uniform};
use self::ycbcr::{kr_kb, Decode, ENCODE_2020, ENCODE_709};
use super::portable;
use crate::frame::{ColourInfo, Frame, Plane};

// ITU-T H.273 code points used here.
const BT709: u8 = 1;
const BT2020: u8 = 9;
const TRANSFER_PQ: u8 = 16;
const TRANSFER_HLG: u8 = 18;

/// Luma coefficients (Kr, Kb) of the two matrices this module writes.
const KRKB_709: (f32, f32) = (0.2126, 0.0722);
const KRKB_2020: (f32, f32) = (0.2627, 0.0593);

/// The HDR transfer characteristic of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HdrTransfer {
    /// SMPTE ST 2084 perceptual quantiser (HDR10, Dolby Vision base layers).
    Pq,
    /// ARIB STD-B67 hybrid log-gamma (broadcast HDR).
    Hlg,
}

/// Which HDR transfer a stream is tagged with, if any.
pub fn is_hdr(c: &ColourInfo) -> Option<HdrTransfer> {
    match c.transfer {
        TRANSFER_PQ => Some(HdrTransfer::Pq),
        TRANSFER_HLG => Some(HdrTransfer::Hlg),
        _ => None,
    }
}

/// Settings for HDR → SDR tone mapping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneMapParams {
    /// Brightest light in the source, in cd/m² (MaxCLL, else the mastering display's maximum
    /// luminance); PQ only, as HLG is always rendered for a 1000 cd/m² display. Default 1000.
    pub source_peak_nits: f32,
    /// Luminance that SDR white stands for. Default 100; use the inverse mapper's
    /// `reference_white_nits` (BT.2408: 203) for a round trip that keeps mid-tones.
    pub target_peak_nits: f32,
    /// Output bit depth: 8 or 10 (anything in 8–16 is accepted).
    pub bit_depth: u8,
}

impl Default for ToneMapParams {
    fn default() -> Self {
        ToneMapParams {
            source_peak_nits: 1000.0,
            target_peak_nits: 100.0,
            bit_depth: 8,
        }
    }
}

/// Settings for SDR → HDR (PQ) inverse tone mapping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InverseToneMapParams {
    /// Where SDR diffuse white sits in HDR, in cd/m² (BT.2408: 203).
    pub reference_white_nits: f32,
    /// Where the top of the SDR range (specular highlights) is expanded to, in cd/m².
    pub peak_nits: f32,
}

impl Default for InverseToneMapParams {
    fn default() -> Self {
        InverseToneMapParams {
            reference_white_nits: 203.0,
            peak_nits: 1000.0,
        }
    }
}

/// HDR → SDR with the tables built once, for converting many frames.
///
/// Per pixel: Y'CbCr (BT.2020 NCL) → R'G'B' → linear light → BT.2390 EETF as a gain on max(R, G, B)
/// → BT.2020 → BT.709 primaries → desaturate out-of-gamut colours toward their luminance → inverse
/// BT.1886 (gamma 1/2.4) → Y'CbCr BT.709, limited range.
///
/// The EETF drives max(R, G, B) rather than luminance: scaling all three channels by the same
/// factor keeps their ratios (hue and saturation), and since the largest channel lands at or below
/// the target peak the tone curve itself never clips. Driving luminance leaves saturated blues and
/// reds, whose luminance is low, near full level, so one channel clips and the hue shifts.
///
/// The output is encoded with the inverse of BT.1886 (a pure 1/2.4 power) rather than the BT.709
/// camera OETF: PQ and the HLG OOTF output give display light, and an SDR display decodes with
/// BT.1886, so its inverse shows the tone-mapped light as computed. The BT.709 OETF would add its
/// own scene-to-display contrast on top of the grade's.
pub struct ToneMapper {
    bit_depth: u8,
    /// PQ signal → linear light / 10 000 cd/m².
    pq_eotf: Uniform,
    /// HLG signal → scene light in [0, 1].
    hlg_inverse_oetf: Uniform,
    /// Scene luminance Ys → OOTF gain (0.1 · Ys^0.2: 1000 cd/m² display, system gamma 1.2).
    hlg_ootf: LogTable,
    /// Tone curve for max(R, G, B): linear / 10 000 cd/m² in, linear with target peak = 1 out.
    pq_curve: LogTable,
    hlg_curve: LogTable,
    /// Linear [0, 1] → BT.1886 signal.
    oetf: LogTable,
    /// BT.2020 → BT.709 linear RGB.
    gamut: [[f32; 3]; 3],
    /// BT.709 luminance row, the anchor for desaturation.
    luminance: [f32; 3],
}

impl ToneMapper {
    pub fn new(p: &ToneMapParams) -> ToneMapper {
        let target = positive_or(p.target_peak_nits, 100.0).clamp(1.0, 10_000.0);
        let source = positive_or(p.source_peak_nits, 1000.0).clamp(1.0, 10_000.0);
        let to_xyz_709 = rgb_to_xyz(PRIMARIES_709);
        ToneMapper {
            bit_depth: p.bit_depth.clamp(8, 16),
            pq_eotf: Uniform::new(pq_eotf),
            hlg_inverse_oetf: Uniform::new(hlg_inverse_oetf),
            hlg_ootf: LogTable::new(|ys| HLG_PEAK / 10_000.0 * portable::pow(ys, 0.2)),
            pq_curve: tone_curve(&Eetf::new(source, target), target),
            hlg_curve: tone_curve(&Eetf::new(HLG_PEAK, target), target),
            oetf: LogTable::new(|l| portable::pow(l, 1.0 / 2.4)),
            gamut: to_f32(mul(&invert(&to_xyz_709), &rgb_to_xyz(PRIMARIES_2020))),
            luminance: to_xyz_709[1].map(|v| v as f32),
        }
    }

    /// Tone-maps one frame. Frames tagged HLG take the HLG path; anything else is read as PQ
    /// (choose the path with [`is_hdr`]). The matrix tag picks the input Y'CbCr coefficients, with
    /// BT.2020 NCL when it is unspecified (constant-luminance 2020 is read as NCL).
    ///
    /// Panics if the frame's planes hold fewer samples than its size and layout call for.
    pub fn apply(&self, frame: &Frame) -> Frame {
        let dec = Decode::new(kr_kb(frame.colour.matrix).unwrap_or(KRKB_2020));
        let planes = if frame.colour.transfer == TRANSFER_HLG {
            convert(frame, &dec, self.bit_depth, &HlgToSdr(self))
        } else {
            convert(frame, &dec, self.bit_depth, &PqToSdr(self))
        };
        output(frame, planes, self.bit_depth, BT709, BT709, BT709)
    }

    /// Linear BT.2020 light (/10 000 cd/m²) → BT.709 Y'CbCr in [0, 1] / [-0.5, 0.5].
    #[inline(always)]
    fn finish(&self, curve: &LogTable, lin: [Lanes; 3]) -> [Lanes; 3] {
        let rgb = into_gamut(mat(&self.gamut, &apply_curve(curve, &lin)), self.luminance);
        ENCODE_709.ycc(&map3(&rgb, |c| self.oetf.eval(c)))
    }
}

/// Tone-maps a PQ or HLG BT.2020 frame to BT.709 SDR (see [`ToneMapper`]).
pub fn hdr_to_sdr(frame: &Frame, p: &ToneMapParams) -> Frame {
    ToneMapper::new(p).apply(frame)
}

/// SDR → HDR (PQ, BT.2020, 10-bit limited) with the tables built once.
///
/// Per pixel: Y'CbCr → R'G'B' → BT.1886 (gamma 2.4) linear → BT.709 → BT.2020 primaries (always in
/// gamut) → expansion as a gain on max(R, G, B) → PQ → Y'CbCr BT.2020 NCL. The gain reads the
/// BT.2020 maximum, the same quantity [`ToneMapper`] reads, so the two directions agree on which
/// pixels are highlights (reading the BT.709 maximum tripled the round-trip error on saturated
/// colours).
///
/// The curve, in cd/m² for SDR linear `m` (1 = SDR white), is `m · W` (W = reference white) up to
/// the knee of the BT.2390 EETF that maps `peak` down to `W`, so [`ToneMapper`] with source = peak
/// and target = W undoes it exactly there (the knee sits at 71 % of the SDR signal for the
/// defaults, 88 cd/m²). Above the knee, in the PQ domain, `E' = k + d + a·d²` (d = distance above
/// the knee k), with `a` chosen so SDR white lands on `peak`: continuous with slope 1 at the knee
/// (no visible seam), monotonic, and with slope 5 at white, where the EETF's exact inverse has an
/// infinite slope that would turn each of the top SDR codes into a jump of hundreds of cd/m².
pub struct InverseToneMapper {
    /// BT.1886 signal → linear [0, 1].
    eotf: Uniform,
    /// Expansion curve for max(R, G, B): SDR linear in, linear / 10 000 cd/m² out.
    curve: LogTable,
    /// Linear / 10 000 cd/m² → PQ signal.
    pq: LogTable,
    /// BT.709 → BT.2020 linear RGB.
    gamut: [[f32; 3]; 3],
}

impl InverseToneMapper {
    pub fn new(p: &InverseToneMapParams) -> InverseToneMapper {
        let peak = positive_or(p.peak_nits, 1000.0).clamp(1.0, 10_000.0);
        let white = positive_or(p.reference_white_nits, 203.0).clamp(1.0, peak);
        InverseToneMapper {
            eotf: Uniform::new(|v| portable::pow(v, 2.4)),
            curve: expand_curve(white, peak),
            pq: LogTable::new(pq_inverse_eotf),
            gamut: to_f32(mul(
                &invert(&rgb_to_xyz(PRIMARIES_2020)),
                &rgb_to_xyz(PRIMARIES_709),
            )),
        }
    }

    /// Converts one SDR frame. Matrix 5/6 is decoded as BT.601, 9/10 as BT.2020; anything else
    /// (709, unspecified) as BT.709. Primaries are taken as BT.709 whatever the tag (601's are
    /// close enough that converting them is not worth the tint risk of a wrong tag).
    ///
    /// Panics if the frame's planes hold fewer samples than its size and layout call for.
    pub fn apply(&self, frame: &Frame) -> Frame {
        let dec = Decode::new(kr_kb(frame.colour.matrix).unwrap_or(KRKB_709));
        let planes = convert(frame, &dec, 10, &SdrToPq(self));
        output(frame, planes, 10, BT2020, TRANSFER_PQ, BT2020)
    }
}

/// A per-pixel conversion, a batch of pixels at a time: R'G'B' in (unclamped; the tables clamp),
/// Y'CbCr out. A trait rather than a closure so the hot loop can be made to inline it.
trait Pixel: Sync {
    fn px(&self, rgb: [Lanes; 3]) -> [Lanes; 3];
}

struct PqToSdr<'a>(&'a ToneMapper);

impl Pixel for PqToSdr<'_> {
    #[inline(always)]
    fn px(&self, rgb: [Lanes; 3]) -> [Lanes; 3] {
        let m = self.0;
        m.finish(&m.pq_curve, map3(&rgb, |c| m.pq_eotf.eval(c)))
    }
}

struct HlgToSdr<'a>(&'a ToneMapper);

impl Pixel for HlgToSdr<'_> {
    #[inline(always)]
    fn px(&self, rgb: [Lanes; 3]) -> [Lanes; 3] {
        let m = self.0;
        let [r, g, b] = map3(&rgb, |c| m.hlg_inverse_oetf.eval(c));
        let [lr, lg, lb] = KRKB_2020_ROW;
        let s = m
            .hlg_ootf
            .eval(&lanes(|j| lr * r[j] + lg * g[j] + lb * b[j]));
        m.finish(&m.hlg_curve, map3(&[r, g, b], |c| lanes(|j| c[j] * s[j])))
    }
}

struct SdrToPq<'a>(&'a InverseToneMapper);

impl Pixel for SdrToPq<'_> {
    #[inline(always)]
    fn px(&self, rgb: [Lanes; 3]) -> [Lanes; 3] {
        let m = self.0;
        let wide = mat(&m.gamut, &map3(&rgb, |c| m.eotf.eval(c)));
        ENCODE_2020.ycc(&map3(&apply_curve(&m.curve, &wide), |c| m.pq.eval(c)))
    }
}

/// Expands a BT.709 SDR frame to PQ BT.2020 (see [`InverseToneMapper`]).
pub fn sdr_to_hdr(frame: &Frame, p: &InverseToneMapParams) -> Frame {
    InverseToneMapper::new(p).apply(frame)
}

fn positive_or(v: f32, default: f64) -> f64 {
    if v.is_finite() && v > 0.0 {
        v as f64
    } else {
        default
    }
}

fn output(
    frame: &Frame,
    planes: Vec<Plane>,
    depth: u8,
    matrix: u8,
    transfer: u8,
    prim: u8,
) -> Frame {
    Frame {
        width: frame.width,
        height: frame.height,
        layout: frame.layout,
        bit_depth: depth,
        planes,
        colour: ColourInfo {
            full_range: false,
            matrix,
            transfer,
            primaries: prim,
            chroma_center: frame.colour.chroma_center,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{ChromaLayout, Samples};

    const PQ_2020: ColourInfo = ColourInfo {
        full_range: false,
        matrix: 9,
        transfer: 16,
        primaries: 9,
        chroma_center: false,
    };
    const HLG_2020: ColourInfo = ColourInfo {
        full_range: false,
        matrix: 9,
        transfer: 18,
        primaries: 9,
        chroma_center: false,
    };
    const SDR_709: ColourInfo = ColourInfo {
        full_range: false,
        matrix: 1,
        transfer: 1,
        primaries: 1,
        chroma_center: false,
    };

    /// Builds a limited-range frame from a per-pixel R'G'B' function, averaging chroma per block.
    fn from_rgb(
        w: usize,
        h: usize,
        layout: ChromaLayout,
        depth: u8,
        colour: ColourInfo,
        (kr, kb): (f32, f32),
        f: impl Fn(usize, usize) -> [f64; 3],
    ) -> Frame {
        let mut frame = Frame::new(w, h, layout, depth, colour);
        let (kr, kb) = (kr as f64, kb as f64);
        let s = (1u32 << (depth - 8)) as f64;
        let (cw, ch) = layout.chroma_size(w, h);
        let (sx, sy) = layout.log2_subsampling();
        let mut yv = vec![0u32; w * h];
        let mut acc = vec![(0f64, 0f64, 0f64); cw * ch];
        for y in 0..h {
            for x in 0..w {
                let [r, g, b] = f(x, y);
                let l = kr * r + (1.0 - kr - kb) * g + kb * b;
                yv[y * w + x] = ((16.0 + 219.0 * l) * s).round() as u32;
                let a = &mut acc[(y >> sy) * cw + (x >> sx)];
                a.0 += (b - l) / (2.0 * (1.0 - kb));
                a.1 += (r - l) / (2.0 * (1.0 - kr));
                a.2 += 1.0;
            }
        }
        let c = |v: f64, n: f64| ((128.0 + 224.0 * v / n) * s).round() as u32;
        let cb: Vec<u32> = acc.iter().map(|a| c(a.0, a.2)).collect();
        let cr: Vec<u32> = acc.iter().map(|a| c(a.1, a.2)).collect();
        let data: [&[u32]; 3] = [&yv, &cb, &cr];
        for (p, d) in frame.planes.iter_mut().zip(data) {
            p.samples = if depth > 8 {
                Samples::U16(d.iter().map(|&v| v as u16).collect())
            } else {
                Samples::U8(d.iter().map(|&v| v as u8).collect())
            };
        }
        frame
    }

    fn codes(p: &Plane) -> Vec<u32> {
        match &p.samples {
            Samples::U8(d) => d.iter().map(|&v| v as u32).collect(),
            Samples::U16(d) => d.iter().map(|&v| v as u32).collect(),
        }
    }

    #[test]
    fn grey_ramp_stays_grey_and_monotonic() {
        for colour in [PQ_2020, HLG_2020] {
            let w = 880;
            let mut f = Frame::new(w, 4, ChromaLayout::Yuv420, 10, colour);
            if let Samples::U16(d) = &mut f.planes[0].samples {
                for (i, v) in d.iter_mut().enumerate() {
                    *v = (60 + (i % w)) as u16; // 60..=939: a little below black to near white
                }
            }
            let out = hdr_to_sdr(&f, &ToneMapParams::default());
            for p in &out.planes[1..] {
                assert!(
                    codes(p).iter().all(|&c| (127..=129).contains(&c)),
                    "{colour:?}"
                );
            }
            let y = codes(&out.planes[0]);
            let row = &y[..w];
            assert!(row.windows(2).all(|v| v[0] <= v[1]), "{colour:?}: {row:?}");
            assert_eq!(row[0], 16);
            assert!(row[w - 1] >= 234, "{colour:?}: top {}", row[w - 1]);
        }
    }

    #[test]
    fn sdr_hdr_sdr_round_trip_keeps_mid_tones() {
        let (w, h) = (128, 96);
        // Smooth, colourful, all legal: R' runs across, G' down, B' diagonally.
        let rgb = |x: usize, y: usize| {
            let (u, v) = (x as f64 / w as f64, y as f64 / h as f64);
            [0.05 + 0.9 * u, 0.05 + 0.9 * v, 0.2 + 0.6 * (u + v) / 2.0]
        };
        let sdr = from_rgb(w, h, ChromaLayout::Yuv420, 8, SDR_709, KRKB_709, rgb);
        let ip = InverseToneMapParams::default();
        let hdr = sdr_to_hdr(&sdr, &ip);
        let back = hdr_to_sdr(
            &hdr,
            &ToneMapParams {
                source_peak_nits: ip.peak_nits,
                target_peak_nits: ip.reference_white_nits,
                bit_depth: 8,
            },
        );
        let (a, b) = (codes(&sdr.planes[0]), codes(&back.planes[0]));
        let (mut mid, mut n_mid, mut all, mut worst) = (0.0, 0, 0.0, 0i64);
        for (i, (&a, &b)) in a.iter().zip(&b).enumerate() {
            let d = (a as i64 - b as i64).abs();
            all += d as f64;
            worst = worst.max(d);
            let [r, g, bl] = rgb(i % w, i / w);
            if r.max(g).max(bl) <= 0.65 {
                mid += d as f64;
                n_mid += 1;
            }
        }
        let (mid, all) = (mid / n_mid as f64, all / a.len() as f64);
        let chroma: f64 = (1..3)
            .flat_map(|i| {
                let (a, b) = (codes(&sdr.planes[i]), codes(&back.planes[i]));
                a.into_iter()
                    .zip(b)
                    .map(|(a, b)| (a as f64 - b as f64).abs())
            })
            .sum::<f64>()
            / (2 * sdr.planes[1].width * sdr.planes[1].height) as f64;
        println!(
            "round trip Y MAE: mid-tones {mid:.3} ({n_mid} px), all {all:.3}, worst {worst}; \
             chroma MAE {chroma:.3}"
        );
        // Measured: mid-tones 0.04, all 2.7 (worst 23, in highlights: the expansion is
        // deliberately gentler than the EETF's exact inverse), chroma 0.53.
        assert!(mid < 0.5, "mid-tone MAE {mid}");
        assert!(all < 4.0, "MAE {all}");
        assert!(chroma < 1.0, "chroma MAE {chroma}");
    }

    #[test]
    fn output_tags_and_geometry() {
        for layout in [
            ChromaLayout::Yuv420,
            ChromaLayout::Yuv422,
            ChromaLayout::Yuv444,
            ChromaLayout::Gray,
        ] {
            let (w, h) = (7, 5);
            let (cw, ch) = layout.chroma_size(w, h);
            let hdr = Frame::new(w, h, layout, 12, PQ_2020);
            let sdr = hdr_to_sdr(&hdr, &ToneMapParams::default());
            assert_eq!(sdr.colour, SDR_709);
            assert_eq!((sdr.bit_depth, sdr.layout), (8, layout));
            assert_eq!(sdr.planes.len(), layout.planes());
            assert!(matches!(sdr.planes[0].samples, Samples::U8(_)));
            let ten = hdr_to_sdr(
                &hdr,
                &ToneMapParams {
                    bit_depth: 10,
                    ..Default::default()
                },
            );
            assert_eq!(ten.bit_depth, 10);
            assert!(matches!(ten.planes[0].samples, Samples::U16(_)));
            // Black stays black, grey chroma stays neutral.
            assert!(codes(&ten.planes[0]).iter().all(|&c| c == 64));

            let up = sdr_to_hdr(&sdr, &InverseToneMapParams::default());
            assert_eq!(up.colour, PQ_2020);
            assert_eq!((up.bit_depth, up.layout), (10, layout));
            assert!(matches!(up.planes[0].samples, Samples::U16(_)));
            for (i, p) in up.planes.iter().enumerate() {
                let (pw, ph) = if i == 0 { (w, h) } else { (cw, ch) };
                assert_eq!((p.width, p.height), (pw, ph));
                assert_eq!(codes(p).len(), pw * ph);
                assert!(codes(p).iter().all(|&c| c == if i == 0 { 64 } else { 512 }));
            }
        }
        assert_eq!(is_hdr(&PQ_2020), Some(HdrTransfer::Pq));
        assert_eq!(is_hdr(&HLG_2020), Some(HdrTransfer::Hlg));
        assert_eq!(is_hdr(&SDR_709), None);
    }

    #[test]
    fn full_range_input_reads_like_limited() {
        let rgb = |x: usize, y: usize| [x as f64 / 63.0, y as f64 / 15.0, 0.5];
        let lim = from_rgb(64, 16, ChromaLayout::Yuv420, 10, PQ_2020, KRKB_2020, rgb);
        let mut full = lim.clone();
        full.colour.full_range = true;
        for (i, p) in full.planes.iter_mut().enumerate() {
            if let Samples::U16(d) = &mut p.samples {
                for v in d.iter_mut() {
                    let c = *v as f64;
                    let f = if i == 0 {
                        (c - 64.0) / 876.0 * 1023.0
                    } else {
                        (c - 512.0) / 896.0 * 1023.0 + 512.0
                    };
                    *v = f.round().clamp(0.0, 1023.0) as u16;
                }
            }
        }
        let p = ToneMapParams::default();
        let (a, b) = (hdr_to_sdr(&lim, &p), hdr_to_sdr(&full, &p));
        // Re-quantising to full range moves codes by up to half a step. That is invisible except
        // in a saturated colour at the gamut corner, where a channel near black goes through the
        // steep start of the 1/2.4 power: there one code can become three.
        let (mut sum, mut n, mut worst) = (0u32, 0u32, 0u32);
        for (pa, pb) in a.planes.iter().zip(&b.planes) {
            for (x, y) in codes(pa).into_iter().zip(codes(pb)) {
                sum += x.abs_diff(y);
                n += 1;
                worst = worst.max(x.abs_diff(y));
            }
        }
        let mean = sum as f64 / n as f64;
        assert!(mean < 0.25 && worst <= 4, "mean {mean}, worst {worst}");
        // Mixed storage (8-bit chroma beside 16-bit luma) is widened rather than rejected.
        let mut mixed = lim.clone();
        mixed.planes[1].samples = Samples::U8(vec![128; 32 * 8]);
        assert_eq!(hdr_to_sdr(&mixed, &p).planes[1].width, 32);
    }

    #[test]
    fn saturated_bt2020_primaries_stay_legal() {
        let top = pq_inverse_eotf(0.1); // 1000 cd/m²
        let colours = [
            [0.0, top, 0.0],
            [top, 0.0, 0.0],
            [0.0, 0.0, 1.0],
            [top, top, 0.0],
        ];
        for (i, c) in colours.into_iter().enumerate() {
            let f = from_rgb(4, 4, ChromaLayout::Yuv444, 10, PQ_2020, KRKB_2020, |_, _| c);
            let out = hdr_to_sdr(&f, &ToneMapParams::default());
            let (y, cb, cr) = (
                codes(&out.planes[0])[0] as f32,
                codes(&out.planes[1])[0] as f32,
                codes(&out.planes[2])[0] as f32,
            );
            assert!((16.0..=235.0).contains(&y), "{i}: Y {y}");
            assert!(
                (16.0..=240.0).contains(&cb) && (16.0..=240.0).contains(&cr),
                "{i}"
            );
            let l = (y - 16.0) / 219.0;
            let d = Decode::new(KRKB_709).offsets((cb - 128.0) / 224.0, (cr - 128.0) / 224.0);
            let rgb = d.map(|d| l + d);
            // Legal Y'CbCr that also decodes to R'G'B' inside [0, 1] (up to rounding).
            assert!(
                rgb.iter().all(|c| (-0.02..=1.02).contains(c)),
                "{i}: R'G'B' {rgb:?} out of range"
            );
            // The dominant primary stays dominant.
            let dom = match i {
                0 => rgb[1] > 0.5 && rgb[1] > rgb[0] && rgb[1] > rgb[2],
                1 => rgb[0] > 0.5 && rgb[0] > rgb[1] && rgb[0] > rgb[2],
                2 => rgb[2] > 0.5 && rgb[2] > rgb[0] && rgb[2] > rgb[1],
                _ => rgb[0] > 0.5 && rgb[1] > 0.5 && rgb[2] < rgb[0].min(rgb[1]),
            };
            assert!(dom, "{i}: hue lost, R'G'B' {rgb:?}");
        }
    }

    #[test]
    fn timing_1080p() {
        let (w, h) = (1920, 1080);
        let mut f = Frame::new(w, h, ChromaLayout::Yuv420, 10, PQ_2020);
        let (cw, _) = ChromaLayout::Yuv420.chroma_size(w, h);
        for (i, p) in f.planes.iter_mut().enumerate() {
            let pw = if i == 0 { w } else { cw };
            if let Samples::U16(d) = &mut p.samples {
                for (j, v) in d.iter_mut().enumerate() {
                    let (x, y) = (j % pw, j / pw);
                    *v = if i == 0 {
                        (64 + (x * 876) / pw + y % 7) as u16
                    } else {
                        (512 + (x + 3 * y + i * 100) % 400) as u16 - 200
                    };
                }
            }
        }
        let time = |run: &dyn Fn() -> Frame| {
            let mut best = f64::MAX;
            for _ in 0..3 {
                let t = std::time::Instant::now();
                std::hint::black_box(run());
                best = best.min(t.elapsed().as_secs_f64() * 1e3);
            }
            best
        };
        let t = std::time::Instant::now();
        let mapper = ToneMapper::new(&ToneMapParams::default());
        let build = t.elapsed().as_secs_f64() * 1e3;
        let down = time(&|| mapper.apply(&f));
        let sdr = mapper.apply(&f);
        let up_mapper = InverseToneMapper::new(&InverseToneMapParams::default());
        let up = time(&|| up_mapper.apply(&sdr));
        println!(
            "1080p 10-bit 4:2:0: hdr_to_sdr {down:.1} ms, sdr_to_hdr {up:.1} ms, \
             table build {build:.2} ms (best of 3, one thread unless `parallel`)"
        );
    }
}
