//! `loanwatch bench evidence`: what field evidence costs, each figure beside a baseline measured
//! in the same run, so the ratios mean something on any machine.
//!
//! 1. **Completing a 12-megapixel JPEG**: what `POST /evidence/{id}/complete` does to a photo once
//!    its bytes are read (SHA-256, type check, decode under limits, 320 px thumbnail, perceptual
//!    hash), timed over several rounds, with the peak memory it adds to the process. The baseline
//!    is the SHA-256 alone, the least any verification must do.
//! 2. **Upload throughput to S3**: a PUT through a presigned URL bound to length, type and
//!    SHA-256 (what phones do; the server is not in the data path) beside a plain signed
//!    PutObject of the same bytes to the same server, alternating which goes first. The goal is
//!    at least 0.8 of the plain PUT's throughput. The S3 server is the configured one
//!    (`OBJECT_STORE=s3`), or else a local `s3s-fs` started for the run.

use std::{io::Write, time::Instant};

use aws_sdk_s3::primitives::ByteStream;
use image::{ImageEncoder, RgbImage, codecs::jpeg::JpegEncoder};
use loanwatch_domain::field::evidence::sniff_matches;
use loanwatch_store::{
    object::{Presigned, S3Objects},
    testing::TestS3,
};
use sha2::{Digest, Sha256};

use crate::{Config, config::ObjectsConfig, field::images};

/// What to measure.
#[derive(Debug, Clone)]
pub struct EvidenceBenchSpec {
    /// Completions of the photo timed.
    pub rounds: usize,
    /// Size of each upload, MiB.
    pub upload_mib: u64,
    /// Uploads timed on each side.
    pub uploads: usize,
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct EvidenceBenchReport {
    /// The photo: width, height, bytes.
    pub photo: (u32, u32, usize),
    /// Median milliseconds of a whole completion.
    pub completion_ms: f64,
    /// Median milliseconds of the SHA-256 alone.
    pub sha256_ms: f64,
    /// Median milliseconds of decoding, thumbnail and hash (the completion without the SHA-256).
    pub decode_ms: f64,
    /// Resident memory before a completion, MiB.
    pub rss_before_mib: f64,
    /// Peak resident memory during a completion, MiB (`None` where the kernel cannot reset it).
    pub rss_peak_mib: Option<f64>,
    /// Which S3 server the uploads went to.
    pub s3: String,
    /// MiB/s of each presigned upload.
    pub presigned_mib_s: Vec<f64>,
    /// MiB/s of each plain upload.
    pub plain_mib_s: Vec<f64>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// A 4000 × 3000 picture with the structure and sensor noise of a photo, as a quality-90 JPEG.
fn twelve_megapixel_jpeg() -> anyhow::Result<Vec<u8>> {
    let (w, h) = (4000u32, 3000u32);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let img = RgbImage::from_fn(w, h, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let noise = (seed % 17) as i32 - 8;
        let shade = |base: i32| (base + noise).clamp(0, 255) as u8;
        let wall = ((x / 250 + y / 250) % 2) as i32 * 60;
        image::Rgb([
            shade((x * 200 / w) as i32 + wall / 2),
            shade((y * 180 / h) as i32 + 30),
            shade(120 + wall - (x as i32 - 2000).abs() / 40),
        ])
    });
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90).write_image(
        img.as_raw(),
        w,
        h,
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

/// A field of `/proc/self/status`, MiB.
fn status_mib(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Resets the peak resident size (Linux ≥ 4.0), so the next peak is the next step's.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// What completion does to a photo's bytes; the thumbnail is returned so it is not optimised away.
fn complete(bytes: &[u8]) -> anyhow::Result<(String, images::Analysed)> {
    let sha = hex::encode(Sha256::digest(bytes));
    anyhow::ensure!(sniff_matches("image/jpeg", bytes), "not a JPEG");
    let analysed = images::analyse(bytes).map_err(|e| anyhow::anyhow!(e))?;
    Ok((sha, analysed))
}

fn seconds_of(f: impl FnOnce() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

fn put_presigned(agent: &ureq::Agent, p: &Presigned, body: &[u8]) -> anyhow::Result<()> {
    let mut req = ureq::http::Request::builder()
        .method(p.method.as_str())
        .uri(&p.url);
    for (k, v) in &p.headers {
        if !k.eq_ignore_ascii_case("content-length") {
            req = req.header(k, v);
        }
    }
    let res = agent.run(req.body(body)?)?;
    anyhow::ensure!(
        res.status().is_success(),
        "presigned PUT answered {}",
        res.status()
    );
    Ok(())
}

/// Runs both measurements.
pub fn run(config: &Config, spec: &EvidenceBenchSpec) -> anyhow::Result<EvidenceBenchReport> {
    anyhow::ensure!(spec.rounds > 0 && spec.uploads > 0, "nothing to measure");
    let photo = twelve_megapixel_jpeg()?;
    let (_, first) = complete(&photo)?;
    let mut completion = Vec::new();
    let mut sha = Vec::new();
    let mut decode = Vec::new();
    for _ in 0..spec.rounds {
        sha.push(seconds_of(|| {
            std::hint::black_box(Sha256::digest(&photo));
            Ok(())
        })?);
        decode.push(seconds_of(|| {
            std::hint::black_box(images::analyse(&photo).map_err(|e| anyhow::anyhow!(e))?);
            Ok(())
        })?);
        completion.push(seconds_of(|| {
            std::hint::black_box(complete(&photo)?);
            Ok(())
        })?);
    }
    let rss_before_mib = status_mib("VmRSS:").unwrap_or(0.0);
    let rss_peak_mib = if reset_peak() {
        std::hint::black_box(complete(&photo)?);
        status_mib("VmHWM:")
    } else {
        None
    };

    // Uploads.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut _server = None;
    let (s3, which) = match &config.objects {
        ObjectsConfig::S3(c) => (
            S3Objects::new(c),
            format!(
                "configured bucket {} at {}",
                c.bucket,
                c.endpoint.as_deref().unwrap_or("AWS")
            ),
        ),
        ObjectsConfig::Local => {
            let server = TestS3::start().ok_or_else(|| {
                anyhow::anyhow!(
                    "no S3 to upload to: set OBJECT_STORE=s3 and its S3_* variables, or install s3s-fs (cargo install s3s-fs@0.14.1 --features binary --locked --root .tools)"
                )
            })?;
            let s3 = S3Objects::new(&server.config());
            let which = format!("s3s-fs at {} (started for this run)", server.endpoint);
            _server = Some(server);
            (s3, which)
        }
    };
    rt.block_on(s3.check())?;
    let size = usize::try_from(spec.upload_mib << 20)?;
    let body: Vec<u8> = (0..size)
        .map(|i| {
            (i as u64)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(17) as u8
        })
        .collect();
    let body_sha = hex::encode(Sha256::digest(&body));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mib = spec.upload_mib as f64;
    let mut presigned_mib_s = Vec::new();
    let mut plain_mib_s = Vec::new();
    for round in 0..spec.uploads + 1 {
        let key = format!("bench/{}/{round}", uuid::Uuid::now_v7().simple());
        let presigned = rt.block_on(s3.presign_put(
            &format!("{key}-presigned"),
            size as u64,
            &body_sha,
            "video/mp4",
            std::time::Duration::from_secs(3600),
        ))?;
        let stream = ByteStream::from(body.clone());
        let run_presigned = || seconds_of(|| put_presigned(&agent, &presigned, &body));
        let run_plain = |stream: ByteStream| {
            seconds_of(|| {
                rt.block_on(
                    s3.client()
                        .put_object()
                        .bucket(s3.bucket())
                        .key(format!("{key}-plain"))
                        .content_type("video/mp4")
                        .body(stream)
                        .send(),
                )?;
                Ok(())
            })
        };
        let (p, q) = if round % 2 == 0 {
            let p = run_presigned()?;
            (p, run_plain(stream)?)
        } else {
            let q = run_plain(stream)?;
            (run_presigned()?, q)
        };
        // The first round warms connections and caches; it is not counted.
        if round > 0 {
            presigned_mib_s.push(mib / p);
            plain_mib_s.push(mib / q);
        }
        for k in [format!("{key}-presigned"), format!("{key}-plain")] {
            rt.block_on(
                s3.client()
                    .delete_object()
                    .bucket(s3.bucket())
                    .key(k)
                    .send(),
            )?;
        }
    }
    Ok(EvidenceBenchReport {
        photo: (first.width, first.height, photo.len()),
        completion_ms: median(completion) * 1000.0,
        sha256_ms: median(sha) * 1000.0,
        decode_ms: median(decode) * 1000.0,
        rss_before_mib,
        rss_peak_mib,
        s3: which,
        presigned_mib_s,
        plain_mib_s,
    })
}

/// Prints the report.
pub fn print(
    out: &mut impl Write,
    spec: &EvidenceBenchSpec,
    r: &EvidenceBenchReport,
) -> std::io::Result<()> {
    let (w, h, bytes) = r.photo;
    writeln!(
        out,
        "completion of a {w}x{h} JPEG ({:.1} MiB), median of {} rounds:",
        bytes as f64 / 1048576.0,
        spec.rounds
    )?;
    writeln!(
        out,
        "  whole completion      {:>8.1} ms  (SHA-256, type check, decode, thumbnail, perceptual hash)",
        r.completion_ms
    )?;
    writeln!(out, "  decode+thumbnail+hash {:>8.1} ms", r.decode_ms)?;
    writeln!(
        out,
        "  SHA-256 alone         {:>8.1} ms  (baseline; completion = {:.1}x)",
        r.sha256_ms,
        r.completion_ms / r.sha256_ms.max(1e-9)
    )?;
    match r.rss_peak_mib {
        Some(peak) => writeln!(
            out,
            "  memory: {:.0} MiB resident before, peak {:.0} MiB during a completion (+{:.0} MiB)",
            r.rss_before_mib,
            peak,
            peak - r.rss_before_mib
        )?,
        None => writeln!(
            out,
            "  memory: {:.0} MiB resident (this kernel cannot reset the peak)",
            r.rss_before_mib
        )?,
    }
    let presigned = median(r.presigned_mib_s.clone());
    let plain = median(r.plain_mib_s.clone());
    writeln!(
        out,
        "uploads of {} MiB to {}, median of {}:",
        spec.upload_mib, r.s3, spec.uploads
    )?;
    writeln!(
        out,
        "  presigned PUT (length, type and SHA-256 bound) {:>8.1} MiB/s",
        presigned
    )?;
    writeln!(
        out,
        "  plain signed PutObject (baseline)              {:>8.1} MiB/s",
        plain
    )?;
    writeln!(
        out,
        "  ratio {:.2} (goal: at least 0.80)",
        presigned / plain.max(1e-9)
    )?;
    Ok(())
}
