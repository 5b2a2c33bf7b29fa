//! Opening inputs: local files only, no network protocols, no playlists that point at other files.

use super::{ffmpeg, init, MediaError, Result};
use std::io::Read;
use std::path::Path;

/// Opens a media file for demuxing after checking it exists, is a non-empty regular file and is not a
/// playlist. FFmpeg may only use the `file` protocol.
pub fn open(path: &Path) -> Result<ffmpeg::format::context::Input> {
    init();
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            MediaError::NotFound(shown.clone())
        } else {
            MediaError::Io {
                path: shown.clone(),
                source: e,
            }
        }
    })?;
    if !meta.is_file() {
        return Err(MediaError::NotAFile(shown));
    }
    if meta.len() == 0 {
        return Err(MediaError::Empty(shown));
    }
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(MediaError::io(&shown))?;
    if is_playlist(&head[..n]) {
        return Err(MediaError::Playlist(shown));
    }
    let abs = std::path::absolute(path).map_err(MediaError::io(&shown))?;
    let url = format!("file:{}", abs.display());
    let mut opts = ffmpeg::Dictionary::new();
    opts.set("protocol_whitelist", "file");
    ffmpeg::format::input_with_dictionary(&url, opts).map_err(|e| MediaError::Unrecognised {
        path: shown,
        reason: e.to_string(),
    })
}

fn is_playlist(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    t.starts_with("#EXTM3U")
        || t.starts_with("ffconcat")
        || t.starts_with("[playlist]")
        || (t.starts_with("<?xml") && (t.contains("<MPD") || t.contains("<smil")))
        || t.starts_with("<MPD")
}

#[cfg(test)]
mod tests {
    #[test]
    fn playlists_are_recognised() {
        assert!(super::is_playlist(b"#EXTM3U\n#EXT-X-VERSION:3"));
        assert!(super::is_playlist(b"ffconcat version 1.0\nfile a.mp4"));
        assert!(!super::is_playlist(b"\0\0\0\x20ftypisom"));
    }
}
