//! Still pictures as 8-bit RGB: the first frame of any input FFmpeg opens (PNG, JPEG, a video) in,
//! PNG out. For `kino-node upscale` (one picture through a neural stage) and its tests.

use super::convert::Converter;
use super::decode::FrameSource;
use super::{ffmpeg, MediaError, Result};
use ffmpeg::format::Pixel;
use ffmpeg::util::frame::Video as AvFrame;
use std::path::Path;

/// An interleaved 8-bit RGB picture.
pub struct Rgb8 {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Rgb8 {
    /// The picture `n` times smaller on each side, each pixel the rounded mean of its n×n block
    /// (a ×4 network's output brought to ×2 without ringing). Edge pixels that do not fill a block
    /// are dropped.
    pub fn shrink(&self, n: usize) -> Rgb8 {
        let n = n.max(1);
        let (width, height) = (self.width / n, self.height / n);
        let mut data = vec![0u8; width * height * 3];
        let area = (n * n) as u32;
        for y in 0..height {
            for x in 0..width {
                for c in 0..3 {
                    let mut sum = 0u32;
                    for dy in 0..n {
                        let row = (y * n + dy) * self.width;
                        for dx in 0..n {
                            sum += self.data[(row + x * n + dx) * 3 + c] as u32;
                        }
                    }
                    data[(y * width + x) * 3 + c] = ((sum + area / 2) / area) as u8;
                }
            }
        }
        Rgb8 {
            width,
            height,
            data,
        }
    }
}

/// The first frame of `path` as RGB.
pub fn read_rgb(path: &Path) -> Result<Rgb8> {
    let mut source = FrameSource::open(path, i64::MIN, 1)?;
    let (_, frame) = source
        .next_frame()?
        .ok_or_else(|| MediaError::Decode(format!("{}: no picture in it", path.display())))?;
    let (w, h) = (frame.width(), frame.height());
    let rgb = if frame.format() == Pixel::RGB24 {
        frame
    } else {
        Converter::new(frame.format(), Pixel::RGB24, w, h)?.run(&frame)?
    };
    let (wu, hu) = (w as usize, h as usize);
    let stride = rgb.stride(0);
    let mut data = Vec::with_capacity(wu * hu * 3);
    for y in 0..hu {
        data.extend_from_slice(&rgb.data(0)[y * stride..y * stride + wu * 3]);
    }
    Ok(Rgb8 {
        width: wu,
        height: hu,
        data,
    })
}

/// Writes `pic` as a PNG (whole or not at all).
pub fn write_png(path: &Path, pic: &Rgb8) -> Result<()> {
    let mut frame = AvFrame::new(Pixel::RGB24, pic.width as u32, pic.height as u32);
    let stride = frame.stride(0);
    for (y, row) in pic.data.chunks_exact(pic.width * 3).enumerate() {
        frame.data_mut(0)[y * stride..y * stride + row.len()].copy_from_slice(row);
    }
    frame.set_pts(Some(0));
    let codec = ffmpeg::encoder::find(ffmpeg::codec::Id::PNG)
        .ok_or_else(|| MediaError::Encode("FFmpeg has no PNG encoder".into()))?;
    let mut enc = ffmpeg::codec::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(MediaError::ff("PNG encoder"))?;
    enc.set_width(pic.width as u32);
    enc.set_height(pic.height as u32);
    enc.set_format(Pixel::RGB24);
    enc.set_time_base(ffmpeg::Rational(1, 25));
    let mut enc = enc.open_as(codec).map_err(MediaError::ff("PNG encoder"))?;
    enc.send_frame(&frame)
        .map_err(MediaError::ff("PNG encoding"))?;
    enc.send_eof().map_err(MediaError::ff("PNG encoding"))?;
    let mut packet = ffmpeg::Packet::empty();
    enc.receive_packet(&mut packet)
        .map_err(MediaError::ff("PNG encoding"))?;
    let bytes = packet.data().unwrap_or_default();
    let tmp = path.with_extension("png.kino-tmp.0");
    std::fs::write(&tmp, bytes).map_err(MediaError::io(tmp.display().to_string()))?;
    std::fs::rename(&tmp, path).map_err(MediaError::io(path.display().to_string()))
}
