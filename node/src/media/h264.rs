//! Just enough H.264 bitstream reading for seeking safely: NAL unit types in an access unit (avcC
//! length-prefixed or Annex B), and the SEI of the stream's first access unit, which a decoder that
//! starts at a later keyframe needs (FFmpeg reads the x264 version from it and, for streams from old
//! x264 builds, decodes differently: without it, 4:4:4 video from those builds decodes as grey blocks).

use super::ffmpeg;

pub const NAL_SEI: u8 = 6;
pub const NAL_IDR: u8 = 5;
pub const NAL_SPS: u8 = 7;
pub const NAL_PPS: u8 = 8;

/// The NAL length size of an avcC `extradata` (MP4/MKV framing); `None` means Annex B start codes.
pub fn nal_length_size(extradata: &[u8]) -> Option<usize> {
    (extradata.len() >= 5 && extradata[0] == 1).then(|| (extradata[4] & 3) as usize + 1)
}

/// The stream's extradata (empty when there is none).
pub fn extradata(stream: &ffmpeg::format::stream::Stream) -> Vec<u8> {
    // SAFETY: codecpar of an open stream; extradata is `extradata_size` bytes or null.
    unsafe {
        let par = (*stream.as_ptr()).codecpar;
        if (*par).extradata.is_null() || (*par).extradata_size <= 0 {
            Vec::new()
        } else {
            std::slice::from_raw_parts((*par).extradata, (*par).extradata_size as usize).to_vec()
        }
    }
}

/// Each NAL unit of an access unit as (type, bytes including its length prefix or start code).
pub fn nal_units(data: &[u8], nal_length: Option<usize>) -> Vec<(u8, &[u8])> {
    let mut units = Vec::new();
    match nal_length {
        Some(n) => {
            let mut at = 0usize;
            while at + n < data.len() {
                let len = data[at..at + n]
                    .iter()
                    .fold(0usize, |acc, &b| (acc << 8) | b as usize);
                let end = at.saturating_add(n).saturating_add(len).min(data.len());
                units.push((data[at + n] & 0x1f, &data[at..end]));
                at = end;
            }
        }
        None => {
            let starts: Vec<usize> = data
                .windows(3)
                .enumerate()
                .filter(|(_, w)| w == &[0, 0, 1])
                .map(|(i, _)| i)
                .collect();
            for (k, &s) in starts.iter().enumerate() {
                let end = starts.get(k + 1).copied().unwrap_or(data.len());
                if let Some(&h) = data.get(s + 3) {
                    units.push((h & 0x1f, &data[s..end]));
                }
            }
        }
    }
    units
}

/// The NAL unit types of an access unit.
pub fn nal_types(data: &[u8], nal_length: Option<usize>) -> Vec<u8> {
    nal_units(data, nal_length).iter().map(|u| u.0).collect()
}

/// An access unit made of only the SEI NAL units of `data` (`None` when it has none).
pub fn sei_only(data: &[u8], nal_length: Option<usize>) -> Option<Vec<u8>> {
    let sei: Vec<u8> = nal_units(data, nal_length)
        .into_iter()
        .filter(|u| u.0 == NAL_SEI)
        .flat_map(|u| u.1.iter().copied())
        .collect();
    (!sei.is_empty()).then_some(sei)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nal_types_are_read_in_both_framings() {
        // SEI (6) then an IDR slice (0x65) / a non-IDR slice (0x41), 4-byte lengths.
        assert_eq!(
            nal_types(&[0, 0, 0, 2, 6, 0, 0, 0, 0, 2, 0x65, 0x88], Some(4)),
            [6, 5]
        );
        assert_eq!(
            nal_types(&[0, 0, 0, 2, 6, 0, 0, 0, 0, 2, 0x41, 0x9a], Some(4)),
            [6, 1]
        );
        // A length running past the end stops the scan instead of panicking.
        assert_eq!(nal_types(&[0xff, 0xff, 0xff, 0xff, 0x41], Some(4)), [1]);
        assert_eq!(nal_types(&[0, 0, 0, 1, 0x67, 0, 0, 1, 0x65], None), [7, 5]);
    }

    #[test]
    fn sei_is_cut_out_of_an_access_unit() {
        let au = [0, 0, 0, 2, 6, 9, 0, 0, 0, 2, 0x65, 0x88];
        assert_eq!(sei_only(&au, Some(4)), Some(vec![0, 0, 0, 2, 6, 9]));
        assert_eq!(sei_only(&[0, 0, 0, 2, 0x65, 0x88], Some(4)), None);
        assert_eq!(nal_length_size(&[1, 100, 0, 31, 0xff, 0xe1]), Some(4));
    }
}
