//! Watermark of a 12-megapixel camera JPEG: Loanwatch's pipeline against the naive one (decode
//! to RGBA with `image`, draw with `imageproc`, encode with `image`'s JPEG encoder), side by
//! side in the same run, with the heap's peak during each call.
//!
//! `cargo bench -p loanwatch-sdk --bench watermark` (font: `LOANWATCH_TEST_FONT`, or Debian's
//! fonts-wqy-microhei). Targets (issue 6): at most 300 ms and 100 MB on one core, at least 2×
//! faster than the naive pipeline.

// A benchmark reports on standard output.
#![allow(clippy::print_stdout)]

use std::{io::Cursor, time::Instant};

use ab_glyph::{FontVec, PxScale};
use image::{ImageEncoder, Rgba, codecs::jpeg::JpegEncoder};
use loanwatch_sdk::{
    Stamp, Watermarker,
    watermark::{QUALITY, sample_jpeg},
};

/// A field of `/proc/self/status` (Linux), MB.
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0 / 1e6)
}

/// Runs `f`, returning its result and milliseconds.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64() * 1000.0)
}

/// Peak memory of one call, measured in a fresh process (this bench run again with
/// `--peak WHICH`): the resident set's high-water mark less the resident set just before.
fn peak_mb(which: &str) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .args(["--peak", which])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The naive pipeline.
fn naive(jpeg: &[u8], font: &FontVec, lines: &[String]) -> Vec<u8> {
    let Ok(img) = image::load_from_memory(jpeg) else {
        panic!("the sample decodes");
    };
    let mut rgba = img.to_rgba8();
    let (w, h) = rgba.dimensions();
    let px = (w.min(h) as f32 / 40.0).max(14.0);
    let band = (px * 1.2 * lines.len() as f32 + px * 1.2) as u32;
    imageproc::drawing::draw_filled_rect_mut(
        &mut rgba,
        imageproc::rect::Rect::at(0, (h - band) as i32).of_size(w, band),
        Rgba([0, 0, 0, 255]),
    );
    for (i, line) in lines.iter().enumerate() {
        imageproc::drawing::draw_text_mut(
            &mut rgba,
            Rgba([255, 255, 255, 255]),
            (px * 0.6) as i32,
            (h - band) as i32 + (px * 0.6) as i32 + (px * 1.2 * i as f32) as i32,
            PxScale::from(px),
            font,
            line,
        );
    }
    let rgb = image::DynamicImage::ImageRgba8(rgba).into_rgb8();
    let mut out = Vec::new();
    let Ok(()) = JpegEncoder::new_with_quality(Cursor::new(&mut out), QUALITY).write_image(
        rgb.as_raw(),
        w,
        h,
        image::ExtendedColorType::Rgb8,
    ) else {
        panic!("the naive pipeline encodes");
    };
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let font_path = std::env::var("LOANWATCH_TEST_FONT")
        .unwrap_or_else(|_| "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc".into());
    let Ok(font_bytes) = std::fs::read(&font_path) else {
        panic!("no font at {font_path}: install fonts-wqy-microhei or set LOANWATCH_TEST_FONT");
    };
    let Ok(marker) = Watermarker::from_bytes(font_bytes.clone(), 0) else {
        panic!("{font_path} is not a usable font");
    };
    let Ok(font) = FontVec::try_from_vec_and_index(font_bytes, 0) else {
        panic!("{font_path} is not a usable font");
    };
    let stamp = Stamp {
        latitude: 39.904_211,
        longitude: 116.407_395,
        datum: "gcj02".into(),
        accuracy_m: 8.4,
        device_time_ms: 1_795_000_000_000,
        clock_offset_ms: -3_200,
        utc_offset_minutes: 480,
        officer: "王晓明".into(),
        borrower: "华北机械制造有限公司".into(),
        task: "on_site_inspection 0196a000-0000-7000-8000-000000000001".into(),
    };
    let lines = stamp.lines();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let Ok(upright) = sample_jpeg(4000, 3000, 1) else {
        panic!("sample");
    };
    let Ok(sideways) = sample_jpeg(4000, 3000, 6) else {
        panic!("sample");
    };
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--peak") {
        let input = if args.get(i + 1).map(String::as_str) == Some("rotated") {
            &sideways
        } else {
            &upright
        };
        let before = status_mb("VmRSS:").unwrap_or(0.0);
        match args.get(i + 1).map(String::as_str) {
            Some("naive") => drop(naive(input, &font, &lines)),
            _ => drop(marker.watermark_lines(input, &lines)),
        }
        let high = status_mb("VmHWM:").unwrap_or(0.0);
        println!("{:.1}", high - before);
        return;
    }
    println!(
        "12 MP sample JPEG, {:.1} MB; {rounds} rounds each, alternating; one thread",
        upright.len() as f64 / 1e6
    );
    // Warm-up (page faults, lazy tables).
    let _ = marker.watermark_lines(&upright, &lines);
    let _ = naive(&upright, &font, &lines);

    let (mut ours, mut theirs, mut rotated) = (vec![], vec![], vec![]);
    let mut sample_out = Vec::new();
    let mut naive_len = 0;
    for _ in 0..rounds {
        let (out, ms) = timed(|| marker.watermark_lines(&upright, &lines));
        let Ok(out) = out else {
            panic!("watermark failed");
        };
        sample_out = out.jpeg;
        ours.push(ms);
        let (out, ms) = timed(|| naive(&upright, &font, &lines));
        naive_len = out.len();
        theirs.push(ms);
        rotated.push(timed(|| marker.watermark_lines(&sideways, &lines)).1);
    }
    let (ours, theirs, rotated) = (median(ours), median(theirs), median(rotated));
    // Where Loanwatch's time goes: decoding, the band, and (the rest) encoding and hashing.
    let (decoded, decode_ms) = timed(|| loanwatch_sdk::watermark::decode_upright(&upright));
    let Ok(mut decoded) = decoded else {
        panic!("the sample decodes");
    };
    let draw_ms = timed(|| loanwatch_sdk::watermark::draw_band(&mut decoded, &font, &lines)).1;
    let (ours_peak, rotated_peak, theirs_peak) = (
        peak_mb("ours").unwrap_or(f64::NAN),
        peak_mb("rotated").unwrap_or(f64::NAN),
        peak_mb("naive").unwrap_or(f64::NAN),
    );
    println!("loanwatch   {ours:8.1} ms   peak memory {ours_peak:6.1} MB");
    println!(
        "  of which  decode {decode_ms:.1} ms, band {draw_ms:.1} ms, encode and hash {:.1} ms",
        ours - decode_ms - draw_ms
    );
    println!("  (EXIF 6)  {rotated:8.1} ms   peak memory {rotated_peak:6.1} MB (turned upright)");
    println!("naive       {theirs:8.1} ms   peak memory {theirs_peak:6.1} MB");
    println!(
        "ratio       {:8.2}× faster (naive ÷ loanwatch)",
        theirs / ours
    );
    println!(
        "output      loanwatch {:.2} MB, naive {:.2} MB (both quality {QUALITY}, chroma 4:2:2)",
        sample_out.len() as f64 / 1e6,
        naive_len as f64 / 1e6
    );
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "targets: ≤ 300 ms {}; ≤ 100 MB {}; ≥ 2× {}",
        verdict(ours.max(rotated) <= 300.0),
        verdict(ours_peak.max(rotated_peak) <= 100.0),
        verdict(theirs / ours >= 2.0)
    );
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("watermarked-sample.jpg");
    if std::fs::write(&path, &sample_out).is_ok() {
        println!("output: {}", path.display());
    }
}
