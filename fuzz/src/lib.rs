//! Helpers shared by the fuzz targets.

use std::borrow::Cow;

use sotto_proto::FRAME_LEN;

/// The frame a fuzz input stands for. Frames are [`FRAME_LEN`] bytes, more than libFuzzer's
/// default input size and mostly zero padding, so a shorter input is taken as a frame's leading
/// bytes and zero-padded the way sealed frames are: the fuzzer then spends its time on headers
/// and bodies rather than on lengths. Longer inputs go in unchanged and must be rejected, as
/// must an exact-length input with stray padding.
pub fn frame_of(data: &[u8]) -> Cow<'_, [u8]> {
    if data.len() >= FRAME_LEN {
        return Cow::Borrowed(data);
    }
    let mut frame = data.to_vec();
    frame.resize(FRAME_LEN, 0);
    Cow::Owned(frame)
}

/// The length of the body a well-formed frame declares (header bytes 2..4).
pub fn body_len(frame: &[u8]) -> usize {
    usize::from(u16::from_be_bytes([frame[2], frame[3]]))
}
