//! The S3 backend against a real S3-compatible server that checks signatures (`s3s-fs`):
//! presigned uploads bound to length and checksum, expiry and forgery, presigned downloads,
//! a multipart upload that survives a broken part, and the reads completion relies on.

#![allow(
    clippy::tests_outside_test_module,
    reason = "an integration test file is a test crate of its own"
)]

use std::{
    io::{Read, Write},
    time::Duration,
};

use loanwatch_store::{
    object::{ObjectStore, Presigned, S3Objects},
    testing::TestS3,
};
use sha2::{Digest, Sha256};

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// Sends a presigned request with its signed headers, some replaced or removed; the
/// `Content-Length` is always the body's own.
fn send(p: &Presigned, body: &[u8], change: &[(&str, Option<&str>)]) -> anyhow::Result<u16> {
    let mut req = ureq::http::Request::builder()
        .method(p.method.as_str())
        .uri(&p.url);
    for (k, v) in &p.headers {
        if k.eq_ignore_ascii_case("content-length") {
            continue;
        }
        match change.iter().find(|(c, _)| c.eq_ignore_ascii_case(k)) {
            Some((_, Some(other))) => req = req.header(k, *other),
            Some((_, None)) => {}
            None => req = req.header(k, v),
        }
    }
    let res = agent().run(req.body(body.to_vec())?)?;
    Ok(res.status().as_u16())
}

fn get(url: &str) -> anyhow::Result<(u16, Option<String>, Vec<u8>)> {
    let mut res = agent().get(url).call()?;
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res.body_mut().read_to_vec()?;
    Ok((res.status().as_u16(), ct, body))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn presigned_uploads_are_bound_to_length_and_checksum() -> anyhow::Result<()> {
    let Some(server) = TestS3::start() else {
        return Ok(());
    };
    let rt = runtime()?;
    let s3 = S3Objects::new(&server.config());
    let store = ObjectStore::S3(s3.clone());
    rt.block_on(store.check())?;
    let key = "evidence/t1/e1";
    let bytes = pattern(100_000, 7);
    let ttl = Duration::from_secs(600);
    let put =
        rt.block_on(s3.presign_put(key, bytes.len() as u64, &sha(&bytes), "image/jpeg", ttl))?;
    let signed = put
        .url
        .split("X-Amz-SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .unwrap_or_default()
        .to_owned();
    for h in ["content-length", "content-type", "x-amz-checksum-sha256"] {
        assert!(signed.contains(h), "{h} is not signed: {}", put.url);
    }

    // Longer, other bytes, another checksum, no checksum, a forged signature: all refused, and
    // nothing is stored.
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(send(&put, &longer, &[])?, 403, "another length");
    let mut other = bytes.clone();
    other[10] ^= 1;
    let other_sum = loanwatch_store::object::base64_of_hex(&sha(&other))?;
    assert_eq!(
        send(&put, &other, &[("x-amz-checksum-sha256", Some(&other_sum))])?,
        403,
        "another checksum"
    );
    assert_eq!(
        send(&put, &bytes, &[("x-amz-checksum-sha256", None)])?,
        403,
        "no checksum"
    );
    let mut forged = put.clone();
    let at = forged.url.find("X-Amz-Signature=").unwrap_or(0) + "X-Amz-Signature=".len();
    let flipped = if forged.url[at..].starts_with('0') {
        "1"
    } else {
        "0"
    };
    forged.url.replace_range(at..at + 1, flipped);
    assert_eq!(send(&forged, &bytes, &[])?, 403, "forged");
    assert_eq!(rt.block_on(store.stat(key))?, None);
    // Other bytes of the same length break the checksum. (Real S3 then keeps nothing; s3s-fs
    // keeps the file but not the checksum, so completion reads it back to find the mismatch.)
    assert_eq!(send(&put, &other, &[])?, 400, "other bytes");
    let kept = rt.block_on(store.stat(key))?;
    assert_eq!(kept.and_then(|s| s.sha256), None);

    // The right bytes: stored, and the storage vouches for their SHA-256.
    assert_eq!(send(&put, &bytes, &[])?, 200);
    let stat = rt.block_on(store.stat(key))?;
    assert_eq!(
        stat.map(|s| (s.size, s.sha256)),
        Some((bytes.len() as u64, Some(sha(&bytes))))
    );
    let digest = rt.block_on(store.digest(key))?;
    assert_eq!(digest.map(|d| d.sha256), Some(sha(&bytes)));
    assert_eq!(rt.block_on(store.head_bytes(key, 4))?, bytes[..4].to_vec());
    assert_eq!(rt.block_on(store.read(key, 1_000))?, None, "over the limit");
    assert_eq!(rt.block_on(store.read(key, 100_000))?, Some(bytes.clone()));

    // Downloads through a presigned GET, with the declared type.
    let dl = rt.block_on(s3.presign_get(key, "image/jpeg", Duration::from_secs(60)))?;
    let (status, ct, body) = get(&dl.url)?;
    assert_eq!(
        (status, ct.as_deref(), body == bytes),
        (200, Some("image/jpeg"), true)
    );
    let tampered = dl.url.replace("e1", "e2");
    assert_eq!(get(&tampered)?.0, 403);

    // An expired URL is refused.
    let short = rt.block_on(s3.presign_put(
        "evidence/t1/e3",
        bytes.len() as u64,
        &sha(&bytes),
        "image/jpeg",
        Duration::from_secs(1),
    ))?;
    std::thread::sleep(Duration::from_millis(2_100));
    assert_eq!(send(&short, &bytes, &[])?, 403, "expired");
    assert_eq!(rt.block_on(store.stat("evidence/t1/e3"))?, None);

    rt.block_on(store.delete(key))?;
    rt.block_on(store.delete(key))?;
    assert_eq!(rt.block_on(store.stat(key))?, None);
    assert_eq!(rt.block_on(store.digest(key))?, None);
    Ok(())
}

/// Sends the first half of a part and drops the connection, as a phone losing its network does.
fn broken_put(p: &Presigned, body: &[u8]) -> anyhow::Result<()> {
    let rest = p.url.strip_prefix("http://").unwrap_or(&p.url);
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host)?;
    let mut head = format!("PUT {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in &p.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !p
        .headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("content-length"))
    {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&body[..body.len() / 2])?;
    stream.flush()?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    Ok(())
}

#[test]
fn a_multipart_upload_survives_a_broken_part() -> anyhow::Result<()> {
    let Some(server) = TestS3::start() else {
        return Ok(());
    };
    let rt = runtime()?;
    let s3 = S3Objects::new(&server.config());
    let store = ObjectStore::S3(s3.clone());
    let key = "evidence/t2/video";
    let part = 5 << 20;
    let video = pattern(part + 1_234_567, 3);
    let ttl = Duration::from_secs(600);
    let upload = rt.block_on(s3.start_multipart(key, "video/mp4"))?;
    let sizes = [part, video.len() - part];
    let urls = [1u32, 2]
        .into_iter()
        .zip(sizes)
        .map(|(n, size)| rt.block_on(s3.presign_part(key, &upload, n, size as u64, ttl)))
        .collect::<Result<Vec<_>, _>>()?;
    assert_eq!(send(&urls[0], &video[..part], &[])?, 200);
    // Part 2 breaks off half way; the storage keeps nothing of it.
    broken_put(&urls[1], &video[part..])?;
    let held = rt
        .block_on(s3.list_parts(key, &upload))?
        .unwrap_or_default();
    assert_eq!(
        held.iter().map(|p| (p.number, p.size)).collect::<Vec<_>>(),
        [(1, part as u64)]
    );
    // A part cannot be sent with another length than signed.
    assert_eq!(send(&urls[1], &video[part..part + 10], &[])?, 403);
    // Resumed: part 2 again, then part 1 once more (a retry after a lost answer), then complete.
    assert_eq!(send(&urls[1], &video[part..], &[])?, 200);
    assert_eq!(send(&urls[0], &video[..part], &[])?, 200);
    let held = rt
        .block_on(s3.list_parts(key, &upload))?
        .unwrap_or_default();
    assert_eq!(held.len(), 2);
    rt.block_on(s3.complete_multipart(key, &upload, &held))?;
    let digest = rt.block_on(store.digest(key))?;
    assert_eq!(
        digest.map(|d| (d.size, d.sha256)),
        Some((video.len() as u64, sha(&video)))
    );
    // The upload holds no parts once complete.
    assert_eq!(
        rt.block_on(s3.list_parts(key, &upload))?
            .map(|p| p.len())
            .unwrap_or(0),
        0
    );
    Ok(())
}
