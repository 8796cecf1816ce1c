//! Watermarked photos: the camera's JPEG, turned upright by its EXIF orientation, with a band
//! along the bottom that says where, when and by whom it was taken; re-encoded, with the SHA-256
//! of the final bytes (what the server checks on upload).
//!
//! The pipeline decodes once to RGB (no alpha channel), darkens and writes only the band's rows,
//! and encodes with `jpeg-encoder` (SIMD where the CPU has it). `benches/watermark.rs` measures
//! it against the naive pipeline (RGBA, `imageproc`, `image`'s encoder) in the same run.

use std::{io::Cursor, sync::Arc};

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use chrono::{DateTime, FixedOffset, Offset, Utc};
use image::{
    DynamicImage, ImageDecoder, RgbImage, codecs::jpeg::JpegDecoder, metadata::Orientation,
};
use sha2::{Digest, Sha256};

use crate::SdkError;

/// JPEG quality of watermarked photos.
pub const QUALITY: u8 = 90;

/// What the band shows.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Stamp {
    /// Latitude of the fix, degrees.
    pub latitude: f64,
    /// Longitude of the fix, degrees.
    pub longitude: f64,
    /// Datum of the coordinates: `wgs84`, `gcj02` or `bd09`.
    pub datum: String,
    /// Accuracy radius of the fix, metres.
    pub accuracy_m: f64,
    /// Device clock when the photo was taken, milliseconds since 1970 (UTC).
    pub device_time_ms: i64,
    /// Server clock minus device clock as last measured, milliseconds.
    pub clock_offset_ms: i64,
    /// The officer's local UTC offset, minutes (480 for China).
    pub utc_offset_minutes: i32,
    /// The officer.
    pub officer: String,
    /// The borrower.
    pub borrower: String,
    /// The task.
    pub task: String,
}

impl Stamp {
    /// The band's lines, top to bottom.
    pub fn lines(&self) -> Vec<String> {
        let zone = FixedOffset::east_opt(self.utc_offset_minutes.clamp(-1439, 1439) * 60)
            .unwrap_or_else(|| Utc.fix());
        let at = |ms: i64| {
            DateTime::<Utc>::from_timestamp_millis(ms)
                .map(|t| {
                    t.with_timezone(&zone)
                        .format("%Y-%m-%d %H:%M:%S %:z")
                        .to_string()
                })
                .unwrap_or_else(|| "?".into())
        };
        let offset_s = self.clock_offset_ms as f64 / 1000.0;
        vec![
            format!(
                "{:.6}, {:.6} {} ±{:.0} m",
                self.latitude,
                self.longitude,
                self.datum.to_uppercase(),
                self.accuracy_m
            ),
            format!(
                "{} · server {:+.0} s → {}",
                at(self.device_time_ms),
                offset_s,
                at(self.device_time_ms.saturating_add(self.clock_offset_ms))
            ),
            format!("{} · {} · {}", self.officer, self.borrower, self.task),
        ]
    }
}

/// A watermarked photo.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct WatermarkedPhoto {
    /// The JPEG.
    pub jpeg: Vec<u8>,
    /// SHA-256 of `jpeg`, lowercase hex.
    pub sha256: String,
    /// Width after orientation, pixels.
    pub width: u32,
    /// Height after orientation, pixels.
    pub height: u32,
}

/// Draws watermarks with one font (the phone's CJK system font, or any TrueType/OpenType file).
#[derive(uniffi::Object)]
pub struct Watermarker {
    font: FontVec,
}

impl std::fmt::Debug for Watermarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watermarker").finish_non_exhaustive()
    }
}

#[uniffi::export]
impl Watermarker {
    /// Loads the font at `font_path`; `face_index` picks a face of a collection (`.ttc`), 0 for
    /// a single font.
    #[uniffi::constructor]
    pub fn new(font_path: String, face_index: u32) -> Result<Arc<Self>, SdkError> {
        let bytes = std::fs::read(&font_path)
            .map_err(|e| SdkError::invalid("font_path", format!("{font_path}: {e}")))?;
        Ok(Arc::new(Self::from_bytes(bytes, face_index)?))
    }

    /// Watermarks a camera JPEG with `stamp`.
    pub fn watermark(&self, jpeg: Vec<u8>, stamp: Stamp) -> Result<WatermarkedPhoto, SdkError> {
        self.watermark_lines(&jpeg, &stamp.lines())
    }
}

impl Watermarker {
    /// A watermarker from font bytes.
    pub fn from_bytes(bytes: Vec<u8>, face_index: u32) -> Result<Self, SdkError> {
        let font = FontVec::try_from_vec_and_index(bytes, face_index)
            .map_err(|e| SdkError::invalid("font_path", format!("not a usable font: {e}")))?;
        Ok(Self { font })
    }

    /// Watermarks a JPEG with the given lines.
    pub fn watermark_lines(
        &self,
        jpeg: &[u8],
        lines: &[String],
    ) -> Result<WatermarkedPhoto, SdkError> {
        let mut rgb = decode_upright(jpeg)?;
        draw_band(&mut rgb, &self.font, lines);
        let (width, height) = rgb.dimensions();
        let (w, h) = (
            u16::try_from(width).map_err(|_| too_large())?,
            u16::try_from(height).map_err(|_| too_large())?,
        );
        let mut out = Vec::with_capacity(jpeg.len() + jpeg.len() / 4);
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, QUALITY);
        // Chroma at half the horizontal resolution (4:2:2), as `image`'s encoder writes it and
        // no less than phone cameras keep (4:2:0); jpeg-encoder would keep it all at this
        // quality, for a larger file that shows nothing more.
        encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_2);
        encoder
            .encode(rgb.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
            .map_err(|e| SdkError::storage(format!("could not encode the photo: {e}")))?;
        drop(rgb);
        let sha256 = hex::encode(Sha256::digest(&out));
        Ok(WatermarkedPhoto {
            jpeg: out,
            sha256,
            width,
            height,
        })
    }
}

fn too_large() -> SdkError {
    SdkError::invalid("jpeg", "is wider or taller than 65,535 pixels")
}

/// Decodes a JPEG to RGB and turns it upright by its EXIF orientation.
pub fn decode_upright(jpeg: &[u8]) -> Result<RgbImage, SdkError> {
    let bad = |e: image::ImageError| SdkError::invalid("jpeg", format!("not a readable JPEG: {e}"));
    let mut decoder = JpegDecoder::new(Cursor::new(jpeg)).map_err(bad)?;
    let orientation = decoder.orientation().map_err(bad)?;
    let rgb = match DynamicImage::from_decoder(decoder).map_err(bad)? {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.into_rgb8(),
    };
    Ok(upright(rgb, orientation))
}

/// Turns a picture by its EXIF orientation. The quarter turns (most portrait photos) are copied
/// tile by tile, which keeps both pictures in cache and is several times faster than `image`'s
/// per-pixel rotation; flips are done in place by `image`.
fn upright(img: RgbImage, orientation: Orientation) -> RgbImage {
    let (w, h) = img.dimensions();
    match orientation {
        Orientation::NoTransforms => img,
        Orientation::Rotate90 => remap(&img, h, w, |x, y| (h - 1 - y, x)),
        Orientation::Rotate270 => remap(&img, h, w, |x, y| (y, w - 1 - x)),
        Orientation::Rotate90FlipH => remap(&img, h, w, |x, y| (y, x)),
        Orientation::Rotate270FlipH => remap(&img, h, w, |x, y| (h - 1 - y, w - 1 - x)),
        other => {
            let mut d = DynamicImage::ImageRgb8(img);
            d.apply_orientation(other);
            d.into_rgb8()
        }
    }
}

/// A `new_w` × `new_h` picture with each source pixel moved to `to(x, y)`.
fn remap(src: &RgbImage, new_w: u32, new_h: u32, to: impl Fn(u32, u32) -> (u32, u32)) -> RgbImage {
    const TILE: u32 = 64;
    let (w, h) = src.dimensions();
    let from = src.as_raw();
    let mut out = vec![0u8; new_w as usize * new_h as usize * 3];
    for ty in (0..h).step_by(TILE as usize) {
        for tx in (0..w).step_by(TILE as usize) {
            for y in ty..(ty + TILE).min(h) {
                for x in tx..(tx + TILE).min(w) {
                    let (dx, dy) = to(x, y);
                    let s = (y as usize * w as usize + x as usize) * 3;
                    let d = (dy as usize * new_w as usize + dx as usize) * 3;
                    out[d..d + 3].copy_from_slice(&from[s..s + 3]);
                }
            }
        }
    }
    RgbImage::from_raw(new_w, new_h, out).unwrap_or_default()
}

/// Height of the text in pixels for an image whose shorter side is `short_side`.
fn text_px(short_side: u32) -> f32 {
    (short_side as f32 / 40.0).max(14.0)
}

/// Darkens a band along the bottom and writes the lines on it in white.
pub fn draw_band(img: &mut RgbImage, font: &FontVec, lines: &[String]) {
    let (width, height) = img.dimensions();
    if width == 0 || height == 0 || lines.is_empty() {
        return;
    }
    let mut px = text_px(width.min(height));
    let margin = px * 0.6;
    // Shrink the text until the widest line fits.
    let widest = lines
        .iter()
        .map(|l| layout(font, PxScale::from(px), l).1)
        .fold(0.0f32, f32::max);
    let room = width as f32 - 2.0 * margin;
    if widest > room && widest > 0.0 {
        px = (px * room / widest).max(6.0);
    }
    let scale = PxScale::from(px);
    let scaled = font.as_scaled(scale);
    let line_h = scaled.height() + scaled.line_gap();
    let band_h = ((line_h * lines.len() as f32 + 2.0 * margin).ceil() as u32).min(height);
    let top = height - band_h;
    let row = width as usize * 3;
    let buf: &mut [u8] = img;
    for p in &mut buf[top as usize * row..] {
        *p = ((u16::from(*p) * 100) >> 8) as u8;
    }
    for (i, line) in lines.iter().enumerate() {
        let baseline = top as f32 + margin + scaled.ascent() + line_h * i as f32;
        let (placed, _) = layout(font, scale, line);
        for (id, x) in placed {
            let glyph = id.with_scale_and_position(scale, point(margin + x, baseline));
            let Some(outline) = font.outline_glyph(glyph) else {
                continue;
            };
            let bounds = outline.px_bounds();
            outline.draw(|gx, gy, coverage| {
                let (px_x, px_y) = (
                    bounds.min.x as i64 + i64::from(gx),
                    bounds.min.y as i64 + i64::from(gy),
                );
                if px_x < 0 || px_y < 0 || px_x >= i64::from(width) || px_y >= i64::from(height) {
                    return;
                }
                let at = px_y as usize * row + px_x as usize * 3;
                let c = coverage.clamp(0.0, 1.0);
                for p in &mut buf[at..at + 3] {
                    *p = (f32::from(*p) + (255.0 - f32::from(*p)) * c) as u8;
                }
            });
        }
    }
}

/// Where each glyph of a line goes (kerned), from 0, and the line's width.
fn layout(font: &FontVec, scale: PxScale, line: &str) -> (Vec<(ab_glyph::GlyphId, f32)>, f32) {
    let scaled = font.as_scaled(scale);
    let mut previous = None;
    let mut x = 0.0;
    let mut placed = Vec::with_capacity(line.len());
    for ch in line.chars() {
        let id = scaled.glyph_id(ch);
        if let Some(p) = previous {
            x += scaled.kern(p, id);
        }
        placed.push((id, x));
        x += scaled.h_advance(id);
        previous = Some(id);
    }
    (placed, x)
}

/// A photo-like JPEG (gradients, a checked wall, sensor noise) of the given size, with an EXIF
/// orientation tag when `orientation` is not 1: what the tests and the benchmark watermark.
pub fn sample_jpeg(width: u32, height: u32, orientation: u16) -> Result<Vec<u8>, SdkError> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let img = RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let noise = (seed % 17) as i32 - 8;
        let shade = |base: i32| (base + noise).clamp(0, 255) as u8;
        let wall = ((x / 250 + y / 250) % 2) as i32 * 60;
        image::Rgb([
            shade((x * 200 / width.max(1)) as i32 + wall / 2),
            shade((y * 180 / height.max(1)) as i32 + 30),
            shade(120 + wall - (x as i32 - width as i32 / 2).abs() / 40),
        ])
    });
    let mut plain = Vec::new();
    let (w, h) = (
        u16::try_from(width).map_err(|_| too_large())?,
        u16::try_from(height).map_err(|_| too_large())?,
    );
    jpeg_encoder::Encoder::new(&mut plain, 92)
        .encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| SdkError::storage(format!("could not encode: {e}")))?;
    if orientation == 1 {
        return Ok(plain);
    }
    // APP1 "Exif": a little-endian TIFF header and one IFD entry, Orientation (0x0112, SHORT).
    let mut tiff = b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0".to_vec();
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let len = u16::try_from(app1.len() + 2).map_err(|_| too_large())?;
    let mut out = Vec::with_capacity(plain.len() + app1.len() + 4);
    out.extend_from_slice(&plain[..2]);
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CJK font: `LOANWATCH_TEST_FONT`, or Debian's WenQuanYi Micro Hei or Noto Sans CJK.
    pub(crate) fn cjk_font() -> Option<(Vec<u8>, u32)> {
        let candidates = [
            std::env::var("LOANWATCH_TEST_FONT").ok().map(|p| (p, 0)),
            Some(("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc".into(), 0)),
            Some((
                "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc".into(),
                2,
            )),
        ];
        let found = candidates
            .into_iter()
            .flatten()
            .find_map(|(p, i)| std::fs::read(p).ok().map(|b| (b, i)));
        if found.is_none() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no CJK font: install fonts-wqy-microhei (CI must not skip the watermark tests)"
            );
            eprintln!("SKIPPED: no CJK font (install fonts-wqy-microhei)");
        }
        found
    }

    fn stamp() -> Stamp {
        Stamp {
            latitude: 39.904_211,
            longitude: 116.407_395,
            datum: "gcj02".into(),
            accuracy_m: 8.4,
            device_time_ms: 1_795_000_000_000,
            clock_offset_ms: -3_200,
            utc_offset_minutes: 480,
            officer: "王晓明".into(),
            borrower: "华北机械制造有限公司".into(),
            task: "on_site_inspection 0196".into(),
        }
    }

    #[test]
    fn the_band_says_where_when_and_who() {
        let lines = stamp().lines();
        assert_eq!(lines[0], "39.904211, 116.407395 GCJ02 ±8 m");
        assert_eq!(
            lines[1],
            "2026-11-18 19:06:40 +08:00 · server -3 s → 2026-11-18 19:06:36 +08:00"
        );
        assert_eq!(
            lines[2],
            "王晓明 · 华北机械制造有限公司 · on_site_inspection 0196"
        );
    }

    #[test]
    fn photos_are_turned_upright_marked_and_hashed() -> Result<(), SdkError> {
        let Some((font, face)) = cjk_font() else {
            return Ok(());
        };
        let marker = Watermarker::from_bytes(font, face)?;
        // Orientation 6: the camera held upright, the sensor's picture is on its side.
        let jpeg = sample_jpeg(640, 480, 6)?;
        let photo = marker.watermark(jpeg.clone(), stamp())?;
        assert_eq!((photo.width, photo.height), (480, 640));
        assert_eq!(photo.sha256, hex::encode(Sha256::digest(&photo.jpeg)));
        let again = image::load_from_memory(&photo.jpeg)
            .map_err(|e| SdkError::storage(e.to_string()))?
            .into_rgb8();
        assert_eq!(again.dimensions(), (480, 640));
        // The band is dark with light text in it; the top of the picture is untouched in tone.
        let luma = |img: &RgbImage, y0: u32, y1: u32| {
            let (mut sum, mut n, mut bright) = (0u64, 0u64, 0u64);
            for y in y0..y1 {
                for x in 0..img.width() {
                    let p = img.get_pixel(x, y).0;
                    let l = (u64::from(p[0]) + u64::from(p[1]) + u64::from(p[2])) / 3;
                    sum += l;
                    n += 1;
                    bright += u64::from(l > 200);
                }
            }
            (sum / n.max(1), bright)
        };
        let original = decode_upright(&jpeg)?;
        let (top_before, _) = luma(&original, 0, 40);
        let (top_after, _) = luma(&again, 0, 40);
        assert!(
            top_before.abs_diff(top_after) <= 3,
            "{top_before} vs {top_after}"
        );
        let (band_before, _) = luma(&original, 600, 640);
        let (band_after, bright) = luma(&again, 600, 640);
        assert!(band_after < band_before, "{band_after} vs {band_before}");
        assert!(bright > 50, "text pixels: {bright}");
        // The same input and stamp give the same bytes: the hash is reproducible.
        assert_eq!(marker.watermark(jpeg, stamp())?.sha256, photo.sha256);
        Ok(())
    }

    #[test]
    fn every_orientation_matches_image_s_own() {
        let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8, y as u8, (x * y) as u8]));
        for o in 1..=8u8 {
            let Some(orientation) = Orientation::from_exif(o) else {
                panic!("orientation {o}");
            };
            let mut expected = DynamicImage::ImageRgb8(img.clone());
            expected.apply_orientation(orientation);
            assert_eq!(
                upright(img.clone(), orientation),
                expected.into_rgb8(),
                "{o}"
            );
        }
    }

    #[test]
    fn bad_input_is_a_validation_error() {
        let Some((font, face)) = cjk_font() else {
            return;
        };
        let Ok(marker) = Watermarker::from_bytes(font, face) else {
            panic!("the font loads");
        };
        assert!(matches!(
            marker.watermark(b"not a jpeg".to_vec(), stamp()),
            Err(SdkError::Validation { field, .. }) if field == "jpeg"
        ));
        assert!(matches!(
            Watermarker::from_bytes(b"not a font".to_vec(), 0),
            Err(SdkError::Validation { field, .. }) if field == "font_path"
        ));
    }
}
