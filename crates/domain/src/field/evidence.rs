//! Evidence declared for an inspection: photos, videos and documents, checked against per-kind
//! limits before any byte is uploaded.

text_enum!(
    /// What a piece of evidence is.
    EvidenceKind {
        /// A photo (JPEG, PNG, HEIC).
        Photo = "photo",
        /// A video (MP4, QuickTime).
        Video = "video",
        /// A document (PDF, JPEG scan).
        Document = "document",
    }
);

text_enum!(
    /// Where a piece of evidence stands.
    EvidenceStatus {
        /// Declared; the upload is awaited.
        Declared = "declared",
        /// Uploaded and verified (size and SHA-256).
        Stored = "stored",
        /// The upload did not match the declaration; the object was removed.
        Rejected = "rejected",
    }
);

/// Per-kind limits (configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceLimits {
    /// Largest photo, bytes.
    pub photo_bytes: u64,
    /// Largest video, bytes.
    pub video_bytes: u64,
    /// Largest document, bytes.
    pub document_bytes: u64,
}

impl Default for EvidenceLimits {
    fn default() -> Self {
        Self {
            photo_bytes: 25 << 20,
            video_bytes: 2 << 30,
            document_bytes: 50 << 20,
        }
    }
}

/// Why a declaration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// Empty or over the kind's limit.
    #[error("a {kind} must be 1 to {max} bytes")]
    Size {
        /// The kind.
        kind: EvidenceKind,
        /// Its limit.
        max: u64,
    },
    /// A content type the kind does not take.
    #[error("a {kind} must be one of {allowed}")]
    ContentType {
        /// The kind.
        kind: EvidenceKind,
        /// What it takes.
        allowed: String,
    },
    /// Not 64 lowercase hex digits.
    #[error("must be the SHA-256 of the content as 64 lowercase hex digits")]
    Sha256,
}

impl EvidenceKind {
    /// The content types this kind takes.
    pub fn content_types(self) -> &'static [&'static str] {
        match self {
            Self::Photo => &["image/jpeg", "image/png", "image/heic"],
            Self::Video => &["video/mp4", "video/quicktime"],
            Self::Document => &["application/pdf", "image/jpeg", "image/png"],
        }
    }
}

impl EvidenceLimits {
    /// The limit of a kind.
    pub fn max_bytes(&self, kind: EvidenceKind) -> u64 {
        match kind {
            EvidenceKind::Photo => self.photo_bytes,
            EvidenceKind::Video => self.video_bytes,
            EvidenceKind::Document => self.document_bytes,
        }
    }

    /// Checks a declaration's size and content type.
    pub fn check(
        &self,
        kind: EvidenceKind,
        size: u64,
        content_type: &str,
    ) -> Result<(), EvidenceError> {
        let max = self.max_bytes(kind);
        if size == 0 || size > max {
            return Err(EvidenceError::Size { kind, max });
        }
        if !kind.content_types().contains(&content_type) {
            return Err(EvidenceError::ContentType {
                kind,
                allowed: kind.content_types().join(", "),
            });
        }
        Ok(())
    }
}

/// Checks a SHA-256 given as hex.
pub fn check_sha256(hex: &str) -> Result<(), EvidenceError> {
    if hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(EvidenceError::Sha256)
    }
}

/// Whether the server decodes a content type to thumbnail and hash it (HEIC it cannot).
pub fn decodable_image(content_type: &str) -> bool {
    matches!(content_type, "image/jpeg" | "image/png")
}

/// Whether the first bytes of a file are of the declared content type (magic numbers), so a
/// renamed file is caught.
pub fn sniff_matches(content_type: &str, head: &[u8]) -> bool {
    match content_type {
        "image/jpeg" => head.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => head.starts_with(b"\x89PNG\r\n\x1a\n"),
        "application/pdf" => head.starts_with(b"%PDF-"),
        // ISO base media (MP4, QuickTime, HEIC): a size, then `ftyp`.
        "video/mp4" | "video/quicktime" | "image/heic" => head.get(4..8) == Some(b"ftyp"),
        _ => false,
    }
}

/// Why a stored object's size is not the declared one (known without reading it).
pub fn size_mismatch(declared: u64, found: u64) -> Option<String> {
    (found != declared).then(|| format!("{found} bytes stored, {declared} declared"))
}

/// Why stored bytes of the declared size are not the declared ones: their SHA-256, then the
/// magic number of `head` (their first bytes) against the declared content type.
pub fn content_mismatch(
    content_type: &str,
    declared_sha256: &str,
    sha256: &str,
    head: &[u8],
) -> Option<String> {
    if sha256 != declared_sha256 {
        return Some(format!(
            "SHA-256 {sha256} does not match the declared {declared_sha256}"
        ));
    }
    (!sniff_matches(content_type, head)).then(|| format!("the bytes are not {content_type}"))
}

/// A part of a multipart upload: 1-based number, offset and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// 1-based.
    pub number: u32,
    /// Offset in the file.
    pub offset: u64,
    /// Bytes.
    pub size: u64,
}

/// Whether evidence travels in parts: videos longer than one part (so a 1 GiB file survives a
/// bad network). Photos and documents go in one request.
pub fn uses_parts(kind: EvidenceKind, size: u64, part_bytes: u64) -> bool {
    kind == EvidenceKind::Video && part_bytes > 0 && size > part_bytes
}

/// How a file of `size` bytes is cut into parts of `part_bytes` (the last one shorter).
pub fn part_plan(size: u64, part_bytes: u64) -> Vec<Part> {
    if part_bytes == 0 {
        return Vec::new();
    }
    (0..size.div_ceil(part_bytes))
        .map(|i| Part {
            number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            offset: i * part_bytes,
            size: part_bytes.min(size - i * part_bytes),
        })
        .collect()
}

/// Whether the storage holds `part` whole, among the parts it reports as (number, size).
pub fn part_held(part: &Part, held: &[(u32, u64)]) -> bool {
    held.contains(&(part.number, part.size))
}

/// Hamming distance between two 64-bit perceptual hashes: the number of differing bits.
pub fn hash_distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// Largest perceptual-hash distance at which two images count as the same picture (re-encoded,
/// resized, lightly cropped). Configuration; 10 of 64 bits by default.
pub const SIMILAR_MAX_DISTANCE: u32 = 10;

/// A 64-bit difference hash (dHash) of a 9×8 grayscale thumbnail given row by row: each bit says
/// whether a pixel is brighter than its right-hand neighbour. Robust to re-encoding and resizing.
pub fn difference_hash(gray_9x8: &[u8; 72]) -> u64 {
    let mut h = 0u64;
    for y in 0..8 {
        for x in 0..8 {
            h <<= 1;
            if gray_9x8[y * 9 + x] > gray_9x8[y * 9 + x + 1] {
                h |= 1;
            }
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_bytes_are_checked_against_the_declaration() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0];
        let sha = "ab".repeat(32);
        assert_eq!(
            size_mismatch(10, 11).as_deref(),
            Some("11 bytes stored, 10 declared")
        );
        assert_eq!(size_mismatch(10, 10), None);
        assert_eq!(content_mismatch("image/jpeg", &sha, &sha, &jpeg), None);
        assert!(
            content_mismatch("image/jpeg", &sha, &"cd".repeat(32), &jpeg)
                .is_some_and(|w| w.starts_with("SHA-256"))
        );
        assert_eq!(
            content_mismatch("image/jpeg", &sha, &sha, b"%PDF-1.7").as_deref(),
            Some("the bytes are not image/jpeg")
        );
    }

    #[test]
    fn a_part_is_held_only_whole() {
        let p = Part {
            number: 2,
            offset: 8,
            size: 8,
        };
        assert!(part_held(&p, &[(1, 8), (2, 8)]));
        assert!(!part_held(&p, &[(1, 8), (2, 4)]));
        assert!(!part_held(&p, &[]));
    }

    #[test]
    fn videos_are_cut_into_parts_the_last_one_shorter() {
        let mib = 1 << 20;
        assert!(!uses_parts(EvidenceKind::Video, 8 * mib, 8 * mib));
        assert!(uses_parts(EvidenceKind::Video, 8 * mib + 1, 8 * mib));
        assert!(!uses_parts(EvidenceKind::Photo, 20 * mib, 8 * mib));
        let plan = part_plan(20 * mib + 5, 8 * mib);
        assert_eq!(
            plan.iter()
                .map(|p| (p.number, p.offset, p.size))
                .collect::<Vec<_>>(),
            [
                (1, 0, 8 * mib),
                (2, 8 * mib, 8 * mib),
                (3, 16 * mib, 4 * mib + 5)
            ]
        );
        assert_eq!(part_plan(16 * mib, 8 * mib).len(), 2);
        assert!(part_plan(0, 8 * mib).is_empty());
        assert!(part_plan(10, 0).is_empty());
    }

    #[test]
    fn declarations_are_checked_against_the_kind() {
        let l = EvidenceLimits::default();
        assert_eq!(l.check(EvidenceKind::Photo, 3 << 20, "image/jpeg"), Ok(()));
        assert!(matches!(
            l.check(EvidenceKind::Photo, 30 << 20, "image/jpeg"),
            Err(EvidenceError::Size { .. })
        ));
        assert!(matches!(
            l.check(EvidenceKind::Photo, 0, "image/jpeg"),
            Err(EvidenceError::Size { .. })
        ));
        assert!(matches!(
            l.check(EvidenceKind::Photo, 10, "video/mp4"),
            Err(EvidenceError::ContentType { .. })
        ));
        assert_eq!(l.check(EvidenceKind::Video, 1 << 30, "video/mp4"), Ok(()));
        assert_eq!(check_sha256(&"ab".repeat(32)), Ok(()));
        assert_eq!(check_sha256(&"AB".repeat(32)), Err(EvidenceError::Sha256));
        assert_eq!(check_sha256("abc"), Err(EvidenceError::Sha256));
    }

    #[test]
    fn the_difference_hash_reads_brightness_steps() {
        let mut flat = [100u8; 72];
        assert_eq!(difference_hash(&flat), 0);
        // Every pixel brighter than its right neighbour: all 64 bits set.
        for y in 0..8 {
            for x in 0..9 {
                flat[y * 9 + x] = 200 - 10 * x as u8;
            }
        }
        assert_eq!(difference_hash(&flat), u64::MAX);
        assert_eq!(hash_distance(0, u64::MAX), 64);
        assert_eq!(hash_distance(0b1011, 0b0001), 2);
    }

    #[test]
    fn content_is_sniffed() {
        assert!(sniff_matches("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]));
        assert!(!sniff_matches("image/jpeg", b"%PDF-1.7"));
        assert!(sniff_matches("application/pdf", b"%PDF-1.7"));
        assert!(sniff_matches("video/mp4", b"\0\0\0\x18ftypmp42"));
        assert!(!sniff_matches("video/mp4", b"\x89PNG\r\n\x1a\n"));
    }
}
