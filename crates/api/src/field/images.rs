//! What the server learns from a stored photo: decoded under limits on dimensions and memory (no
//! decompression bombs), a thumbnail, and a perceptual hash for reuse detection.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits, imageops::FilterType};
use loanwatch_domain::field::evidence::difference_hash;

/// Largest width or height decoded, pixels.
pub const MAX_SIDE: u32 = 12_000;
/// Most memory a decode may allocate, bytes.
pub const MAX_ALLOC: u64 = 512 << 20;
/// Longest side of a thumbnail, pixels.
pub const THUMBNAIL_SIDE: u32 = 320;

/// A decoded photo's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysed {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// Difference hash of the picture.
    pub phash: u64,
    /// A JPEG thumbnail.
    pub thumbnail_jpeg: Vec<u8>,
}

/// Decodes a JPEG or PNG under the limits; the error says why, for a person.
pub fn analyse(bytes: &[u8]) -> Result<Analysed, String> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| format!("unreadable image: {e}"))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| {
        format!(
            "the image cannot be decoded within the limits ({MAX_SIDE} px a side, {} MiB): {e}",
            MAX_ALLOC >> 20
        )
    })?;
    let thumb = img.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE);
    let gray = thumb.resize_exact(9, 8, FilterType::Triangle).to_luma8();
    let cells: [u8; 72] = gray
        .as_raw()
        .as_slice()
        .try_into()
        .map_err(|_| "the hash thumbnail has the wrong size".to_owned())?;
    let mut thumbnail_jpeg = Vec::new();
    thumb
        .to_rgb8()
        .write_to(&mut Cursor::new(&mut thumbnail_jpeg), ImageFormat::Jpeg)
        .map_err(|e| format!("cannot encode the thumbnail: {e}"))?;
    Ok(Analysed {
        width: img.width(),
        height: img.height(),
        phash: difference_hash(&cells),
        thumbnail_jpeg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, RgbImage};
    use loanwatch_domain::field::evidence::{SIMILAR_MAX_DISTANCE, hash_distance};

    /// A synthetic scene: gradients and blocks, so the hash has structure.
    fn scene(w: u32, h: u32, seed: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            let (fx, fy) = (x * 640 / w, y * 480 / h);
            let block = ((fx / 80 + fy / 60 + seed) % 3) as u8;
            image::Rgb([(fx % 256) as u8, (fy % 256) as u8, block * 100])
        }))
    }

    fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), format)
            .expect("encode");
        out
    }

    #[test]
    fn re_encoded_resized_and_cropped_copies_hash_alike_and_other_pictures_do_not() {
        let original = scene(1600, 1200, 0);
        let a = analyse(&encode(&original, ImageFormat::Jpeg)).expect("decode");
        assert_eq!((a.width, a.height), (1600, 1200));
        let png = analyse(&encode(&original, ImageFormat::Png)).expect("png");
        let small = analyse(&encode(
            &original.resize(800, 600, FilterType::Lanczos3),
            ImageFormat::Jpeg,
        ))
        .expect("resized");
        let cropped = analyse(&encode(
            &original.crop_imm(30, 20, 1540, 1160),
            ImageFormat::Jpeg,
        ))
        .expect("cropped");
        for (what, b) in [("png", &png), ("resized", &small), ("cropped", &cropped)] {
            let d = hash_distance(a.phash, b.phash);
            assert!(d <= SIMILAR_MAX_DISTANCE, "{what}: distance {d}");
        }
        let other =
            analyse(&encode(&scene(1600, 1200, 1).fliph(), ImageFormat::Jpeg)).expect("other");
        assert!(hash_distance(a.phash, other.phash) > SIMILAR_MAX_DISTANCE);
        assert!(!a.thumbnail_jpeg.is_empty());
    }

    #[test]
    fn oversized_and_corrupt_images_are_refused() {
        // A PNG header claiming 20,000 × 20,000 pixels: refused before any pixel is allocated.
        let mut bomb = encode(&scene(16, 16, 0), ImageFormat::Png);
        bomb[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&20_000u32.to_be_bytes());
        assert!(analyse(&bomb).is_err());
        assert!(analyse(&[0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]).is_err());
    }
}
