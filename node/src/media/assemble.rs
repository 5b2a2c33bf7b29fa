//! Assembly: joins chunk files without re-encoding, adds the input's audio (copied or re-encoded),
//! keeps rotation, colour and HDR side data and metadata, and writes the final file atomically.

use super::audio::{AudioCut, AudioEncoder, AudioTranscoder};
use super::{ffmpeg, input, MediaError, Result};
use ffmpeg::ffi;
use kino_shared::{AudioMode, AudioStageSpec};
use std::path::{Path, PathBuf};

/// What assembly produced.
#[derive(Debug, Clone, Default)]
pub struct Assembled {
    pub video_packets: u64,
    pub audio_packets: u64,
    /// Timestamps that had to be nudged to stay monotonic at seams.
    pub fixed_timestamps: u64,
    pub warnings: Vec<String>,
    /// How an external recording was aligned, for the job report.
    pub audio_sync: Option<crate::audio::sync::SyncReport>,
}

/// The muxer name for an output path, from its extension.
pub fn muxer_for(path: &Path) -> Result<&'static str> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(match ext.as_str() {
        "mp4" | "m4v" => "mp4",
        "mov" => "mov",
        "mkv" => "matroska",
        "webm" => "webm",
        _ => {
            return Err(MediaError::Output {
                path: path.display().to_string(),
                reason: "unsupported output extension (use .mp4, .m4v, .mov, .mkv or .webm)".into(),
            })
        }
    })
}

enum AudioPlan {
    Copy {
        in_index: usize,
        out_index: usize,
        in_tb: ffmpeg::Rational,
    },
    Encode {
        in_index: usize,
        out_index: usize,
        tx: Box<AudioTranscoder>,
    },
}

/// A chapter of the output, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Chapter {
    pub start: f64,
    pub end: f64,
    pub title: String,
}

/// How the chunks and the source's audio become the output.
#[derive(Debug, Clone, Default)]
pub struct AssemblyOptions {
    pub audio: AudioMode,
    /// Applied in order to every audio stream (which is then re-encoded).
    pub audio_stages: Vec<AudioStageSpec>,
    /// Leave out the source's HDR10 side data (the video was tone-mapped).
    pub drop_hdr: bool,
    /// Replace the source's chapters (which are kept when there are none and nothing is cut).
    pub chapters: Vec<Chapter>,
    /// Auto-edit: the parts of the audio to keep (the audio is then re-encoded).
    pub audio_cut: Option<AudioCut>,
    /// Slow motion: the video lasts this many times longer, and so do its chapters (0 or 1: as
    /// it is).
    pub stretch: u32,
}

/// Joins `chunks` (in order) into `output`, taking audio, metadata and side data from `source`.
/// An MP4/MOV output gets its index (`moov`) up front for streaming: written into space reserved
/// before the media data, or, when that turns out too small, by moving the data once more
/// (`faststart`, which copies the whole file).
pub fn assemble(
    source: &Path,
    chunks: &[PathBuf],
    output: &Path,
    opts: &AssemblyOptions,
) -> Result<Assembled> {
    let reserve = match muxer_for(output)? {
        "mp4" | "mov" => Some(moov_reserve(source, chunks, opts.chapters.len())?),
        _ => None,
    };
    if let Some(r) = reserve {
        if let Some(done) = assemble_with(source, chunks, output, opts, Some(r))? {
            return Ok(done);
        }
        tracing::warn!(
            reserved = r,
            "the index outgrew its reserved space; moving the data instead"
        );
    }
    assemble_with(source, chunks, output, opts, None)?.ok_or_else(|| MediaError::Output {
        path: output.display().to_string(),
        reason: "the muxer could not write the index".into(),
    })
}

/// Bytes to reserve for the `moov` index: its fixed boxes and, per packet, at most a size, a
/// time-to-sample, a composition offset, a sync entry and a chunk offset (about 24 bytes; 40
/// counted). Audio is counted as 100 packets a second per stream, more than any common codec
/// makes; chapters (`chapters` new ones, or the source's) 512 bytes each. What the index leaves
/// unused stays as a `free` box (a few hundred bytes a second).
fn moov_reserve(source: &Path, chunks: &[PathBuf], chapters: usize) -> Result<i64> {
    let mut video = 0u64;
    for c in chunks {
        video += input::open(c)?
            .stream(0)
            .map_or(0, |s| s.frames().max(0) as u64);
    }
    let src = input::open(source)?;
    let seconds = (src.duration().max(0) as f64 / f64::from(ffi::AV_TIME_BASE)).ceil() as u64;
    let audio = src
        .streams()
        .filter(|s| s.parameters().medium() == ffmpeg::media::Type::Audio)
        .count() as u64
        * (seconds + 1)
        * 100;
    let metadata: usize = src
        .metadata()
        .iter()
        .map(|(k, v)| k.len() + v.len() + 32)
        .sum();
    let chapters = src.chapters().count().max(chapters) as u64 + 64;
    let bytes = 64 * 1024 + 40 * (video + audio) + metadata as u64 + 512 * chapters;
    Ok(bytes.min(i32::MAX as u64) as i64)
}

/// One assembly; `reserve`: bytes kept for the MP4 index before the media data (`None`: moved up
/// front after writing). `Ok(None)` when the reserved space was too small (the file is discarded).
fn assemble_with(
    source: &Path,
    chunks: &[PathBuf],
    output: &Path,
    opts: &AssemblyOptions,
    reserve: Option<i64>,
) -> Result<Option<Assembled>> {
    let (audio, audio_stages, drop_hdr, chapters) = (
        opts.audio,
        opts.audio_stages.as_slice(),
        opts.drop_hdr,
        opts.chapters.as_slice(),
    );
    let audio_cut = opts.audio_cut.as_ref();
    let muxer = muxer_for(output)?;
    let out_shown = output.display().to_string();
    let file_name = output
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("output");
    let tmp = output.with_file_name(format!(".{file_name}.kino-tmp"));
    let first = chunks.first().ok_or_else(|| MediaError::Output {
        path: out_shown.clone(),
        reason: "no chunks to assemble".into(),
    })?;
    let chunk0 = input::open(first)?;
    let (vparams, chunk_tb) = {
        let s = chunk0.stream(0).ok_or_else(|| {
            MediaError::Truncated(format!("chunk {} has no stream", first.display()))
        })?;
        (s.parameters(), s.time_base())
    };
    let mut src = input::open(source)?;
    let vsrc = src
        .streams()
        .best(ffmpeg::media::Type::Video)
        .map(|s| s.index());
    let (mut octx, global_header) = super::create_output(&tmp, muxer)?;
    let mut result = Assembled::default();

    // Video stream: the chunks' codec parameters, the source's side data.
    {
        let mut ost = octx
            .add_stream(ffmpeg::encoder::find(ffmpeg::codec::Id::None))
            .map_err(MediaError::ff("adding video stream"))?;
        ost.set_parameters(vparams);
        ost.set_time_base(chunk_tb);
        // SAFETY: codecpar valid; side data copied with FFmpeg's own allocator. The stream SAR
        // (what the muxers write) is the chunks' codec SAR.
        unsafe {
            (*(*ost.as_mut_ptr()).codecpar).codec_tag = 0;
            (*ost.as_mut_ptr()).sample_aspect_ratio =
                (*(*ost.as_mut_ptr()).codecpar).sample_aspect_ratio;
            if let Some(vi) = vsrc {
                let ist = src.stream(vi).map(|s| s.as_ptr());
                if let Some(ist) = ist {
                    for i in 0..(*ist).nb_side_data as isize {
                        let sd = &*(*ist).side_data.offset(i);
                        if drop_hdr
                            && matches!(
                                sd.type_,
                                ffi::AVPacketSideDataType::AV_PKT_DATA_MASTERING_DISPLAY_METADATA
                                    | ffi::AVPacketSideDataType::AV_PKT_DATA_CONTENT_LIGHT_LEVEL
                            )
                        {
                            continue;
                        }
                        let dst = ffi::av_stream_new_side_data(ost.as_mut_ptr(), sd.type_, sd.size);
                        if !dst.is_null() {
                            std::ptr::copy_nonoverlapping(sd.data, dst, sd.size);
                        }
                    }
                    if let Some(lang) = src
                        .stream(vi)
                        .and_then(|s| s.metadata().get("language").map(str::to_owned))
                    {
                        let mut md = ffmpeg::Dictionary::new();
                        md.set("language", &lang);
                        ost.set_metadata(md);
                    }
                }
            }
        }
    }

    // Audio streams: copy when the container takes the codec, else re-encode.
    let mut plans: Vec<AudioPlan> = Vec::new();
    // An external recording is aligned once, against the first audio stream.
    let sync_offset = match audio_stages.iter().find_map(AudioStageSpec::sync) {
        Some(p) if audio != AudioMode::None => {
            let reference = src
                .streams()
                .find(|s| s.parameters().medium() == ffmpeg::media::Type::Audio)
                .map(|s| s.index())
                .ok_or(crate::audio::AudioError::NoReferenceAudio)?;
            let report = super::audio::plan_sync(source, reference, p)?;
            result.warnings.extend(report.warnings());
            result.warnings.push(format!(
                "audio sync: {} is {:+.2} ms against the video (confidence {:.1})",
                p.track, report.offset_ms, report.confidence
            ));
            let offset = report.offset_ms / 1000.0;
            result.audio_sync = Some(report);
            Some(offset)
        }
        _ => None,
    };
    if audio != AudioMode::None {
        // SAFETY: the muxer description is static.
        let ofmt = unsafe { octx.format().as_ptr() };
        let audio_streams: Vec<usize> = src
            .streams()
            .filter(|s| s.parameters().medium() == ffmpeg::media::Type::Audio)
            .map(|s| s.index())
            .collect();
        for in_index in audio_streams {
            let stream = src
                .stream(in_index)
                .ok_or_else(|| MediaError::Decode("audio stream vanished".into()))?;
            let params = stream.parameters();
            // SAFETY: ofmt is the muxer's static description.
            let accepted = unsafe {
                ffi::avformat_query_codec(ofmt, params.id().into(), ffi::FF_COMPLIANCE_NORMAL)
            } == 1;
            let encode_to = match audio {
                AudioMode::Copy if audio_cut.is_some() => return Err(MediaError::Output {
                    path: out_shown,
                    reason:
                        "auto-edit cuts the audio, so it cannot be copied; choose auto, aac or opus"
                            .into(),
                }),
                AudioMode::Copy if !accepted => {
                    return Err(MediaError::Output {
                        path: out_shown,
                        reason: format!(
                            "{muxer} cannot carry {:?} audio as a copy; choose aac or opus",
                            params.id()
                        ),
                    })
                }
                AudioMode::Copy => None,
                AudioMode::Auto if accepted && audio_stages.is_empty() && audio_cut.is_none() => {
                    None
                }
                AudioMode::Auto if muxer == "webm" => Some(AudioEncoder::Opus),
                AudioMode::Auto | AudioMode::Aac => Some(AudioEncoder::Aac),
                AudioMode::Opus => Some(AudioEncoder::Opus),
                AudioMode::None => unreachable!("handled above"),
            };
            let out_index = octx.nb_streams() as usize;
            let lang = stream.metadata().get("language").map(str::to_owned);
            match encode_to {
                None => {
                    let in_tb = stream.time_base();
                    let mut ost = octx
                        .add_stream(ffmpeg::encoder::find(ffmpeg::codec::Id::None))
                        .map_err(MediaError::ff("adding audio stream"))?;
                    ost.set_parameters(params);
                    ost.set_time_base(in_tb);
                    // SAFETY: codecpar valid.
                    unsafe { (*(*ost.as_mut_ptr()).codecpar).codec_tag = 0 };
                    if let Some(l) = &lang {
                        let mut md = ffmpeg::Dictionary::new();
                        md.set("language", l);
                        ost.set_metadata(md);
                    }
                    plans.push(AudioPlan::Copy {
                        in_index,
                        out_index,
                        in_tb,
                    });
                }
                Some(kind) => {
                    if muxer == "webm" && kind == AudioEncoder::Aac {
                        return Err(MediaError::Output {
                            path: out_shown,
                            reason: "WebM cannot carry AAC audio; choose opus".into(),
                        });
                    }
                    let (planned, notes) = super::audio::plan_stages(
                        source,
                        in_index,
                        kind,
                        audio_stages,
                        sync_offset,
                        audio_cut,
                    )?;
                    result.warnings.extend(notes);
                    let tx =
                        AudioTranscoder::new(&stream, kind, global_header, &planned, audio_cut)?;
                    let mut ost = octx
                        .add_stream(ffmpeg::encoder::find(ffmpeg::codec::Id::None))
                        .map_err(MediaError::ff("adding audio stream"))?;
                    ost.set_parameters(tx.encoder());
                    ost.set_time_base(tx.enc_tb);
                    if let Some(l) = &lang {
                        let mut md = ffmpeg::Dictionary::new();
                        md.set("language", l);
                        ost.set_metadata(md);
                    }
                    result.warnings.push(format!(
                        "audio stream {in_index} ({:?}) re-encoded to {kind:?}",
                        params.id()
                    ));
                    plans.push(AudioPlan::Encode {
                        in_index,
                        out_index,
                        tx: Box::new(tx),
                    });
                }
            }
        }
    }

    if !audio_stages.is_empty() && plans.is_empty() {
        result
            .warnings
            .push("audio stages requested but there is no audio stream to process".into());
    }
    octx.set_metadata(src.metadata().to_owned());
    // The source's chapters no longer point at the same pictures once the video is cut; slow
    // motion spreads them as it spreads the pictures.
    let stretch = i64::from(opts.stretch.max(1));
    let cut = audio_cut.is_some_and(|c| c.parts != [(None, None)]);
    if chapters.is_empty() && !cut {
        let kept: Vec<_> = src
            .chapters()
            .map(|c| {
                let title = c.metadata().get("title").unwrap_or_default().to_owned();
                let (start, end) = (c.start() * stretch, c.end() * stretch);
                (c.id(), c.time_base(), start, end, title)
            })
            .collect();
        for (id, tb, start, end, title) in kept {
            octx.add_chapter(id, tb, start, end, &title)
                .map_err(MediaError::ff("copying chapters"))?;
        }
    }
    for (i, c) in chapters.iter().enumerate() {
        let ms = |s: f64| (s * stretch as f64 * 1000.0).round() as i64;
        octx.add_chapter(i as i64 + 1, (1, 1000), ms(c.start), ms(c.end), &c.title)
            .map_err(MediaError::ff("adding chapters"))?;
    }
    let mut header_opts = ffmpeg::Dictionary::new();
    match reserve {
        Some(bytes) => header_opts.set("moov_size", &bytes.to_string()),
        None if muxer == "mp4" || muxer == "mov" => header_opts.set("movflags", "+faststart"),
        None => {}
    }
    octx.write_header_with(header_opts)
        .map_err(|e| MediaError::Output {
            path: out_shown.clone(),
            reason: e.to_string(),
        })?;
    let out_tbs: Vec<ffmpeg::Rational> = octx.streams().map(|s| s.time_base()).collect();

    // Merge video packets (chunk after chunk) and audio packets in dts order, so the muxer's
    // interleaving queue stays small whatever the length.
    let mut video = ChunkPackets::new(chunks.to_vec(), chunk0);
    let mut pending_audio: std::collections::VecDeque<(usize, ffmpeg::Packet, ffmpeg::Rational)> =
        Default::default();
    let mut audio_eof = plans.is_empty();
    let mut last_dts: Option<i64> = None;
    let vtb = out_tbs[0];
    let mut next_video = video.next()?;
    loop {
        // Keep at least one audio packet queued while audio lasts.
        while pending_audio.is_empty() && !audio_eof {
            let mut pkt = ffmpeg::Packet::empty();
            match pkt.read(&mut src) {
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => {
                    audio_eof = true;
                    for plan in plans.iter_mut() {
                        if let AudioPlan::Encode { out_index, tx, .. } = plan {
                            tx.finish()?;
                            while let Some(p) = tx.pop() {
                                pending_audio.push_back((*out_index, p, tx.enc_tb));
                            }
                        }
                    }
                    break;
                }
                Err(ffmpeg::Error::Other { errno }) if errno == libc::EAGAIN => continue,
                Err(e) => {
                    result
                        .warnings
                        .push(format!("audio read stopped early: {e}"));
                    audio_eof = true;
                    break;
                }
            }
            for plan in plans.iter_mut() {
                match plan {
                    AudioPlan::Copy {
                        in_index,
                        out_index,
                        in_tb,
                    } if *in_index == pkt.stream() => {
                        pending_audio.push_back((*out_index, pkt.clone(), *in_tb));
                    }
                    AudioPlan::Encode {
                        in_index,
                        out_index,
                        tx,
                    } if *in_index == pkt.stream() => {
                        tx.push(&pkt)?;
                        while let Some(p) = tx.pop() {
                            pending_audio.push_back((*out_index, p, tx.enc_tb));
                        }
                    }
                    _ => {}
                }
            }
        }
        let take_video = match (&next_video, pending_audio.front()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some((v, vtb_in)), Some((_, a, atb))) => {
                let vd = v.dts().or(v.pts()).unwrap_or(0);
                let ad = a.dts().or(a.pts()).unwrap_or(0);
                // SAFETY: pure arithmetic on timestamps.
                unsafe { ffi::av_compare_ts(vd, (*vtb_in).into(), ad, (*atb).into()) <= 0 }
            }
        };
        if take_video {
            let Some((mut pkt, tb_in)) = next_video.take() else {
                break;
            };
            pkt.rescale_ts(tb_in, vtb);
            pkt.set_stream(0);
            pkt.set_position(-1);
            if let (Some(dts), Some(last)) = (pkt.dts(), last_dts) {
                if dts <= last {
                    pkt.set_dts(Some(last + 1));
                    if pkt.pts().is_some_and(|p| p < last + 1) {
                        pkt.set_pts(Some(last + 1));
                    }
                    result.fixed_timestamps += 1;
                }
            }
            last_dts = pkt.dts();
            pkt.write_interleaved(&mut octx)
                .map_err(|e| MediaError::Output {
                    path: out_shown.clone(),
                    reason: e.to_string(),
                })?;
            result.video_packets += 1;
            next_video = video.next()?;
        } else if let Some((out_index, mut pkt, tb_in)) = pending_audio.pop_front() {
            pkt.rescale_ts(tb_in, out_tbs[out_index]);
            pkt.set_stream(out_index);
            pkt.set_position(-1);
            pkt.write_interleaved(&mut octx)
                .map_err(|e| MediaError::Output {
                    path: out_shown.clone(),
                    reason: e.to_string(),
                })?;
            result.audio_packets += 1;
        }
    }
    match octx.write_trailer() {
        Err(e) if reserve.is_some() => {
            tracing::debug!("index not written in its reserved space: {e}");
            drop(octx);
            let _ = std::fs::remove_file(&tmp);
            return Ok(None);
        }
        other => other.map_err(|e| MediaError::Output {
            path: out_shown.clone(),
            reason: e.to_string(),
        })?,
    }
    drop(octx);
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(MediaError::io(tmp.display().to_string()))?;
    std::fs::rename(&tmp, output).map_err(MediaError::io(&out_shown))?;
    if let Some(dir) = output.parent() {
        let _ = std::fs::File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
        .and_then(|d| d.sync_all());
    }
    Ok(Some(result))
}

/// Packets of stream 0 of each chunk file in turn, with their time base. Demuxed MP4 packets carry
/// no duration; the muxer derives all but the last one's from dts steps, so each chunk's last packet
/// gets its duration from the chunk's own length.
struct ChunkPackets {
    paths: Vec<PathBuf>,
    next: usize,
    current: Option<ffmpeg::format::context::Input>,
    held: Option<(ffmpeg::Packet, ffmpeg::Rational)>,
    first_dts: Option<i64>,
}

impl ChunkPackets {
    fn new(paths: Vec<PathBuf>, first: ffmpeg::format::context::Input) -> Self {
        ChunkPackets {
            paths,
            next: 1,
            current: Some(first),
            held: None,
            first_dts: None,
        }
    }

    fn next(&mut self) -> Result<Option<(ffmpeg::Packet, ffmpeg::Rational)>> {
        loop {
            let Some(ctx) = self.current.as_mut() else {
                return Ok(self.held.take());
            };
            let mut pkt = ffmpeg::Packet::empty();
            match pkt.read(ctx) {
                Ok(()) => {
                    let tb = ctx
                        .stream(pkt.stream())
                        .map(|s| s.time_base())
                        .unwrap_or(ffmpeg::Rational(1, 1));
                    if self.first_dts.is_none() {
                        self.first_dts = pkt.dts();
                    }
                    let prev = self.held.replace((pkt, tb));
                    if let Some((mut p, ptb)) = prev {
                        if p.duration() <= 0 {
                            if let (Some(a), Some(b)) =
                                (p.dts(), self.held.as_ref().and_then(|h| h.0.dts()))
                            {
                                p.set_duration((b - a).max(1));
                            }
                        }
                        return Ok(Some((p, ptb)));
                    }
                }
                Err(ffmpeg::Error::Eof) => {
                    let length = ctx.stream(0).map(|s| s.duration()).unwrap_or(0);
                    let last = self.held.take();
                    let first_dts = self.first_dts.take();
                    self.current = match self.paths.get(self.next) {
                        Some(p) => Some(input::open(p)?),
                        None => None,
                    };
                    self.next += 1;
                    if let Some((mut p, ptb)) = last {
                        if let (true, Some(f), Some(d)) = (p.duration() <= 0, first_dts, p.dts()) {
                            if length > 0 {
                                p.set_duration((f + length - d).max(1));
                            }
                        }
                        return Ok(Some((p, ptb)));
                    }
                }
                Err(e) => {
                    let p = self
                        .paths
                        .get(self.next.saturating_sub(1))
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    return Err(MediaError::Truncated(format!("chunk file {p}: {e}")));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Top-level MP4 boxes in file order.
    fn boxes(path: &Path) -> Vec<String> {
        let bytes = std::fs::read(path).unwrap();
        let (mut at, mut names) = (0usize, Vec::new());
        while at + 8 <= bytes.len() {
            let mut size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            if size == 1 {
                size = u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize;
            }
            names.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
            at += size.max(8);
        }
        names
    }

    #[test]
    fn the_index_is_written_up_front_into_reserved_space_or_moved_there() {
        crate::media::init();
        let dir = tempfile::tempdir().unwrap();
        let clip = dir.path().join("clip.mp4");
        let made = std::process::Command::new("ffmpeg")
            .args([
                "-v",
                "error",
                "-f",
                "lavfi",
                "-i",
                "testsrc2=size=160x120:rate=25:duration=2",
            ])
            .args([
                "-f",
                "lavfi",
                "-i",
                "sine=frequency=440:duration=2",
                "-shortest",
            ])
            .args(["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"])
            .arg(&clip)
            .status()
            .unwrap();
        assert!(made.success());
        let chunk = dir.path().join("chunk.mp4");
        let only_video = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&clip)
            .args(["-an", "-c", "copy"])
            .arg(&chunk)
            .status()
            .unwrap();
        assert!(only_video.success());
        let (out, opts) = (dir.path().join("out.mp4"), AssemblyOptions::default());
        let chunks = [chunk];
        // Reserved space: the index, then the unused rest as a free box, then the media.
        let done = assemble(&clip, &chunks, &out, &opts).unwrap();
        assert_eq!((done.video_packets, done.audio_packets > 0), (50, true));
        assert_eq!(boxes(&out)[..3], ["ftyp", "moov", "free"]);
        assert_eq!(boxes(&out).last().map(String::as_str), Some("mdat"));
        // Too little reserved: that try is given up (no file left) and the data moved instead.
        std::fs::remove_file(&out).unwrap();
        assert!(assemble_with(&clip, &chunks, &out, &opts, Some(64))
            .unwrap()
            .is_none());
        assert!(!out.exists() && std::fs::read_dir(dir.path()).unwrap().count() == 2);
        assemble_with(&clip, &chunks, &out, &opts, None)
            .unwrap()
            .unwrap();
        let b = boxes(&out);
        let pos = |n: &str| b.iter().position(|x| x == n).unwrap();
        assert!(pos("moov") < pos("mdat"), "{b:?}");
    }
}
