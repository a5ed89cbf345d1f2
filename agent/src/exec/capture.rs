//! Keeping a bounded prefix of a command's output. The pipes are always drained to the
//! end (a child blocked on a full pipe would never exit), but only the first bytes are
//! kept, so a command printing gigabytes costs the agent a few hundred kilobytes.

use openlegion_skill_host::MAX_PROCESS_OUTPUT_CHARS;

/// Bytes kept per stream: enough for [`MAX_PROCESS_OUTPUT_CHARS`] characters of up to four
/// bytes each.
const MAX_KEPT_BYTES: usize = MAX_PROCESS_OUTPUT_CHARS * 4;

/// The first [`MAX_KEPT_BYTES`] of a stream, and whether more came.
#[derive(Debug, Default)]
pub(super) struct Capture {
    kept: Vec<u8>,
    cut: bool,
}

impl Capture {
    pub(super) fn push(&mut self, bytes: &[u8]) {
        let room = MAX_KEPT_BYTES.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.cut |= bytes.len() > room;
    }

    /// The output as text (invalid UTF-8 replaced), at most [`MAX_PROCESS_OUTPUT_CHARS`]
    /// characters, and whether anything was cut.
    pub(super) fn into_text(self) -> (String, bool) {
        let mut text = String::from_utf8_lossy(&self.kept).into_owned();
        let mut cut = self.cut;
        if let Some((end, _)) = text.char_indices().nth(MAX_PROCESS_OUTPUT_CHARS) {
            text.truncate(end);
            cut = true;
        }
        (text, cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        let mut capture = Capture::default();
        capture.push(b"hello ");
        capture.push(b"world\xff");
        assert_eq!(capture.into_text(), ("hello world\u{fffd}".into(), false));
    }

    #[test]
    fn long_output_is_cut_at_the_character_limit() {
        let mut capture = Capture::default();
        for _ in 0..MAX_PROCESS_OUTPUT_CHARS {
            capture.push("é".as_bytes());
        }
        let (text, cut) = capture.into_text();
        assert_eq!(
            (text.chars().count(), cut),
            (MAX_PROCESS_OUTPUT_CHARS, false)
        );

        let mut capture = Capture::default();
        for _ in 0..3 {
            capture.push(&vec![b'a'; MAX_KEPT_BYTES]);
        }
        assert_eq!(capture.kept.len(), MAX_KEPT_BYTES);
        let (text, cut) = capture.into_text();
        assert_eq!((text.len(), cut), (MAX_PROCESS_OUTPUT_CHARS, true));
    }

    #[test]
    fn a_character_split_by_the_byte_limit_is_not_kept() {
        let mut capture = Capture::default();
        capture.push(&vec![b'a'; MAX_KEPT_BYTES - 1]);
        capture.push("€".as_bytes());
        let (text, cut) = capture.into_text();
        assert!(cut);
        assert!(text.bytes().all(|b| b == b'a'));
    }
}
