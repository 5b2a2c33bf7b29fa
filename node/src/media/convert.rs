//! Moving pixels between FFmpeg frames and `kino_shared::Frame`, and normalising odd pixel formats.

use super::{ffmpeg, MediaError, Result};
use ffmpeg::format::Pixel;
use ffmpeg::util::frame::Video as AvFrame;
use kino_shared::kernels::scene::{self, PlaneRef, PlaneSamples, Signature};
use kino_shared::{ChromaLayout, ColourInfo, Frame, Plane, Samples};

/// The planar layout and depth a pixel format maps to directly, if it does.
pub fn layout_of(pix: Pixel) -> Option<(ChromaLayout, u8)> {
    use Pixel::*;
    Some(match pix {
        YUV420P | YUVJ420P => (ChromaLayout::Yuv420, 8),
        YUV422P | YUVJ422P => (ChromaLayout::Yuv422, 8),
        YUV444P | YUVJ444P => (ChromaLayout::Yuv444, 8),
        GRAY8 => (ChromaLayout::Gray, 8),
        YUV420P10LE => (ChromaLayout::Yuv420, 10),
        YUV422P10LE => (ChromaLayout::Yuv422, 10),
        YUV444P10LE => (ChromaLayout::Yuv444, 10),
        YUV420P12LE => (ChromaLayout::Yuv420, 12),
        YUV422P12LE => (ChromaLayout::Yuv422, 12),
        YUV444P12LE => (ChromaLayout::Yuv444, 12),
        GRAY10LE => (ChromaLayout::Gray, 10),
        _ => return Option::None,
    })
}

/// The pixel format for a layout and depth.
pub fn pixel_of(layout: ChromaLayout, depth: u8) -> Pixel {
    use ChromaLayout::*;
    match (layout, depth) {
        (Yuv420, 8) => Pixel::YUV420P,
        (Yuv422, 8) => Pixel::YUV422P,
        (Yuv444, 8) => Pixel::YUV444P,
        (Gray, 8) => Pixel::GRAY8,
        (Yuv420, 10) => Pixel::YUV420P10LE,
        (Yuv422, 10) => Pixel::YUV422P10LE,
        (Yuv444, 10) => Pixel::YUV444P10LE,
        (Gray, _) => Pixel::GRAY10LE,
        (Yuv420, _) => Pixel::YUV420P12LE,
        (Yuv422, _) => Pixel::YUV422P12LE,
        (Yuv444, _) => Pixel::YUV444P12LE,
    }
}

/// The "J" formats are ordinary YUV with full range; FFmpeg deprecates them, encoders want the plain one.
pub fn unjpeg(pix: Pixel) -> Option<Pixel> {
    match pix {
        Pixel::YUVJ420P => Some(Pixel::YUV420P),
        Pixel::YUVJ422P => Some(Pixel::YUV422P),
        Pixel::YUVJ444P => Some(Pixel::YUV444P),
        _ => None,
    }
}

/// Where a format without a direct mapping is converted to: same depth class and chroma density.
pub fn nearest_supported(pix: Pixel) -> Pixel {
    let depth = super::probe::pixel_depth(pix);
    // SAFETY: static descriptor or null.
    let (sx, sy, rgb) = unsafe {
        let d = ffmpeg::ffi::av_pix_fmt_desc_get(pix.into());
        if d.is_null() {
            (1, 1, false)
        } else {
            (
                (*d).log2_chroma_w,
                (*d).log2_chroma_h,
                (*d).flags & ffmpeg::ffi::AV_PIX_FMT_FLAG_RGB as u64 != 0,
            )
        }
    };
    let layout = if rgb || (sx == 0 && sy == 0) {
        ChromaLayout::Yuv444
    } else if sy == 0 {
        ChromaLayout::Yuv422
    } else {
        ChromaLayout::Yuv420
    };
    pixel_of(layout, if depth > 8 { 10 } else { 8 })
}

/// Colour tags of a decoded frame.
pub fn colour_of(f: &AvFrame) -> ColourInfo {
    // SAFETY: plain field reads of a valid frame.
    unsafe {
        let p = f.as_ptr();
        ColourInfo {
            full_range: (*p).color_range == ffmpeg::ffi::AVColorRange::AVCOL_RANGE_JPEG
                || matches!(
                    f.format(),
                    Pixel::YUVJ420P | Pixel::YUVJ422P | Pixel::YUVJ444P
                ),
            matrix: (*p).colorspace as u8,
            transfer: (*p).color_trc as u8,
            primaries: (*p).color_primaries as u8,
            chroma_center: (*p).chroma_location
                == ffmpeg::ffi::AVChromaLocation::AVCHROMA_LOC_CENTER,
        }
    }
}

/// The scene signature of a decoded frame, read from the decoder's buffers when they are 8-bit
/// planar (no copy: at 1080p the copy cost as much as a third of the decoding), else through a
/// converted `Frame`.
pub fn signature(conv: &mut ToFrame, f: &AvFrame) -> Result<Signature> {
    match layout_of(f.format()) {
        Some((layout, 8)) => {
            let (w, h) = (f.width() as usize, f.height() as usize);
            let (cw, ch) = layout.chroma_size(w, h);
            let planes: Vec<PlaneRef> = (0..layout.planes())
                .map(|i| {
                    let (width, height) = if i == 0 { (w, h) } else { (cw, ch) };
                    PlaneRef {
                        width,
                        height,
                        stride: f.stride(i),
                        samples: PlaneSamples::U8(f.data(i)),
                    }
                })
                .collect();
            Ok(scene::signature_of(&planes, 8))
        }
        _ => Ok(scene::signature(&conv.convert(f)?)),
    }
}

/// Copies a decoded frame (in a directly mapped format) into a `Frame`.
pub fn to_frame(f: &AvFrame) -> Result<Frame> {
    let (layout, depth) = layout_of(f.format()).ok_or_else(|| {
        MediaError::Decode(format!(
            "pixel format {:?} needs conversion first",
            f.format()
        ))
    })?;
    let (w, h) = (f.width() as usize, f.height() as usize);
    let (cw, ch) = layout.chroma_size(w, h);
    let planes = (0..layout.planes())
        .map(|i| {
            let (pw, ph) = if i == 0 { (w, h) } else { (cw, ch) };
            let stride = f.stride(i);
            let data = f.data(i);
            let samples = if depth > 8 {
                let mut v = Vec::with_capacity(pw * ph);
                for y in 0..ph {
                    let row = &data[y * stride..y * stride + pw * 2];
                    v.extend(
                        row.chunks_exact(2)
                            .map(|b| u16::from_le_bytes([b[0], b[1]])),
                    );
                }
                Samples::U16(v)
            } else {
                let mut v = Vec::with_capacity(pw * ph);
                for y in 0..ph {
                    v.extend_from_slice(&data[y * stride..y * stride + pw]);
                }
                Samples::U8(v)
            };
            Plane {
                width: pw,
                height: ph,
                samples,
            }
        })
        .collect();
    Ok(Frame {
        width: w,
        height: h,
        layout,
        bit_depth: depth,
        planes,
        colour: colour_of(f),
    })
}

/// Copies a `Frame` into a new FFmpeg frame with its colour tags.
pub fn from_frame(frame: &Frame) -> AvFrame {
    let pix = pixel_of(frame.layout, frame.bit_depth);
    let mut out = AvFrame::new(pix, frame.width as u32, frame.height as u32);
    for (i, plane) in frame.planes.iter().enumerate() {
        let stride = out.stride(i);
        let data = out.data_mut(i);
        match &plane.samples {
            Samples::U8(v) => {
                for y in 0..plane.height {
                    data[y * stride..y * stride + plane.width]
                        .copy_from_slice(&v[y * plane.width..(y + 1) * plane.width]);
                }
            }
            Samples::U16(v) => {
                for y in 0..plane.height {
                    let row = &mut data[y * stride..y * stride + plane.width * 2];
                    for (dst, s) in row
                        .chunks_exact_mut(2)
                        .zip(&v[y * plane.width..(y + 1) * plane.width])
                    {
                        dst.copy_from_slice(&s.to_le_bytes());
                    }
                }
            }
        }
    }
    set_colour(&mut out, &frame.colour);
    out
}

/// Writes colour tags onto an FFmpeg frame.
pub fn set_colour(f: &mut AvFrame, c: &ColourInfo) {
    // SAFETY: the enums are C ints; values come from FFmpeg originally.
    unsafe {
        let p = f.as_mut_ptr();
        (*p).color_range = if c.full_range {
            ffmpeg::ffi::AVColorRange::AVCOL_RANGE_JPEG
        } else {
            ffmpeg::ffi::AVColorRange::AVCOL_RANGE_MPEG
        };
        (*p).colorspace = std::mem::transmute::<u32, ffmpeg::ffi::AVColorSpace>(c.matrix as u32);
        (*p).color_trc = std::mem::transmute::<u32, ffmpeg::ffi::AVColorTransferCharacteristic>(
            c.transfer as u32,
        );
        (*p).color_primaries =
            std::mem::transmute::<u32, ffmpeg::ffi::AVColorPrimaries>(c.primaries as u32);
        if c.chroma_center {
            (*p).chroma_location = ffmpeg::ffi::AVChromaLocation::AVCHROMA_LOC_CENTER;
        }
    }
}

/// Converts frames of one format to another (same size) with swscale, told the right matrix and range.
pub struct Converter {
    ctx: ffmpeg::software::scaling::Context,
    dst: Pixel,
}

impl Converter {
    pub fn new(src: Pixel, dst: Pixel, w: u32, h: u32) -> Result<Self> {
        let flags = ffmpeg::software::scaling::Flags::BICUBIC
            | ffmpeg::software::scaling::Flags::ACCURATE_RND
            | ffmpeg::software::scaling::Flags::FULL_CHR_H_INT;
        let ctx = ffmpeg::software::scaling::Context::get(src, w, h, dst, w, h, flags).map_err(
            MediaError::ff(format!("pixel conversion {src:?} -> {dst:?}")),
        )?;
        Ok(Converter { ctx, dst })
    }

    pub fn run(&mut self, input: &AvFrame) -> Result<AvFrame> {
        let mut out = AvFrame::empty();
        self.ctx
            .run(input, &mut out)
            .map_err(MediaError::ff("pixel conversion"))?;
        out.set_pts(input.pts());
        let mut c = colour_of(input);
        if unjpeg(input.format()).is_some() {
            c.full_range = true;
        }
        set_colour(&mut out, &c);
        debug_assert_eq!(out.format(), self.dst);
        Ok(out)
    }
}

/// Decoded frames → kernel frames, converting pixel formats the kernels do not take (RGB, packed,
/// NV12…) to the nearest planar one first.
#[derive(Default)]
pub struct ToFrame {
    conv: Option<Converter>,
}

impl ToFrame {
    pub fn convert(&mut self, frame: &AvFrame) -> Result<Frame> {
        if layout_of(frame.format()).is_some() {
            return to_frame(frame);
        }
        let c = match &mut self.conv {
            Some(c) => c,
            None => self.conv.insert(Converter::new(
                frame.format(),
                nearest_supported(frame.format()),
                frame.width(),
                frame.height(),
            )?),
        };
        to_frame(&c.run(frame)?)
    }
}
