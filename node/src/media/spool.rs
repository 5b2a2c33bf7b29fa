//! A chunk's finished frames on disk, raw, for encoding more than once (target-quality search
//! encodes probes, then the chunk at the CRF found): the stages run once, and memory stays flat
//! however long the chunk.

use super::{ffmpeg, MediaError, Result};
use ffmpeg::util::frame::Video as AvFrame;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Writes frames with their pts and duration; `reader` plays them back in order.
pub struct Spool {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    frames: usize,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> MediaError + '_ {
    move |e| MediaError::Output {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

impl Spool {
    pub fn create(path: &Path) -> Result<Spool> {
        let f = File::create(path).map_err(io(path))?;
        Ok(Spool {
            path: path.to_owned(),
            out: Some(BufWriter::with_capacity(1 << 20, f)),
            frames: 0,
        })
    }

    pub fn frames(&self) -> usize {
        self.frames
    }

    pub fn push(&mut self, frame: &AvFrame, pts: i64, duration: i64) -> Result<()> {
        let path = self.path.clone();
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| MediaError::Encode("spool already closed".into()))?;
        let planes = frame.planes();
        let mut head = Vec::with_capacity(64);
        for v in [
            pts,
            duration,
            ffmpeg::ffi::AVPixelFormat::from(frame.format()) as i64,
            frame.width() as i64,
            frame.height() as i64,
            planes as i64,
        ] {
            head.extend_from_slice(&v.to_le_bytes());
        }
        for i in 0..planes {
            head.extend_from_slice(&(frame.stride(i) as i64).to_le_bytes());
            head.extend_from_slice(&(frame.data(i).len() as i64).to_le_bytes());
        }
        out.write_all(&head).map_err(io(&path))?;
        for i in 0..planes {
            out.write_all(frame.data(i)).map_err(io(&path))?;
        }
        self.frames += 1;
        Ok(())
    }

    /// Finishes writing; the frames can be read back any number of times.
    pub fn close(&mut self) -> Result<()> {
        if let Some(mut out) = self.out.take() {
            out.flush().map_err(io(&self.path))?;
        }
        Ok(())
    }

    /// Plays the frames back in order: `each(index, frame, pts, duration)`.
    pub fn replay(
        &self,
        mut each: impl FnMut(usize, &mut AvFrame, i64, i64) -> Result<()>,
    ) -> Result<()> {
        let path = &self.path;
        let mut r = BufReader::with_capacity(1 << 20, File::open(path).map_err(io(path))?);
        for index in 0..self.frames {
            let mut read_word = || -> Result<i64> {
                let mut b = [0u8; 8];
                r.read_exact(&mut b).map_err(io(path))?;
                Ok(i64::from_le_bytes(b))
            };
            let pts = read_word()?;
            let duration = read_word()?;
            let format = read_word()?;
            let (w, h, planes) = (read_word()?, read_word()?, read_word()?);
            let mut layout = Vec::with_capacity(planes as usize);
            for _ in 0..planes {
                layout.push((read_word()? as usize, read_word()? as usize));
            }
            // SAFETY: the value was written from a valid AVPixelFormat by `push`.
            let pixel: ffmpeg::format::Pixel =
                unsafe { std::mem::transmute::<i32, ffmpeg::ffi::AVPixelFormat>(format as i32) }
                    .into();
            let mut frame = AvFrame::new(pixel, w as u32, h as u32);
            for (i, (stride, len)) in layout.into_iter().enumerate() {
                let mut src = vec![0u8; len];
                r.read_exact(&mut src).map_err(io(path))?;
                let dst_stride = frame.stride(i);
                let row = stride.min(dst_stride);
                let dst = frame.data_mut(i);
                for (s, d) in src
                    .chunks(stride.max(1))
                    .zip(dst.chunks_mut(dst_stride.max(1)))
                {
                    let n = row.min(s.len()).min(d.len());
                    d[..n].copy_from_slice(&s[..n]);
                }
            }
            each(index, &mut frame, pts, duration)?;
        }
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.out = None;
        let _ = std::fs::remove_file(&self.path);
    }
}
