//! Object storage in an S3 bucket through aws-sdk-s3. The server presigns; phones send and fetch
//! the bytes themselves, so the server stays out of the data path.
//!
//! A presigned PUT carries `Content-Length`, `Content-Type` and `x-amz-checksum-sha256` among its
//! signed headers: S3 refuses another length (the signature breaks) and other bytes (the checksum
//! breaks), and keeps the verified SHA-256 with the object, so completion needs only a HEAD.

use std::time::Duration;

use aws_sdk_s3::{
    Client,
    config::{
        BehaviorVersion, Credentials, Region, RequestChecksumCalculation, http::HttpResponse,
    },
    error::{DisplayErrorContext, ProvideErrorMetadata, SdkError},
    presigning::{PresignedRequest, PresigningConfig},
    primitives::ByteStream,
    types::{ChecksumMode, CompletedMultipartUpload, CompletedPart},
};
use base64::Engine;
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::{ObjectDigest, ObjectStat, Presigned, UploadedPart, valid_key};
use crate::{StoreError, StoreResult};

/// Where the bucket is and how to reach it.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// Endpoint URL for S3-compatible services (MinIO, s3s); `None` for AWS itself.
    pub endpoint: Option<String>,
    /// Endpoint that phones reach, when it differs from the one the server uses (a MinIO known
    /// inside a private network as `http://minio:9000`): presigned URLs are signed for it.
    pub public_endpoint: Option<String>,
    /// Region (any name for most S3-compatible services).
    pub region: String,
    /// Bucket.
    pub bucket: String,
    /// Path-style addressing (`endpoint/bucket/key`), which most self-hosted services need.
    pub path_style: bool,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: SecretString,
}

/// An S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
    /// Signs the URLs handed to phones (the same client unless a public endpoint is set).
    presigner: Client,
    bucket: String,
}

fn failed<E, R>(what: &str, e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::ObjectStorage(format!("{what}: {}", DisplayErrorContext(&e)))
}

fn not_found<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::ServiceError(s) => {
            s.raw().status().as_u16() == 404
                || matches!(
                    s.err().code(),
                    Some("NoSuchKey" | "NotFound" | "NoSuchUpload")
                )
        }
        _ => false,
    }
}

fn hex_of_base64(b64: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .filter(|raw| raw.len() == 32)
        .map(hex::encode)
}

/// The base64 form S3 wants of a hex SHA-256 (the `x-amz-checksum-sha256` header value).
pub fn base64_of_hex(hex_digest: &str) -> StoreResult<String> {
    let raw = hex::decode(hex_digest)
        .ok()
        .filter(|r| r.len() == 32)
        .ok_or_else(|| StoreError::Config(format!("not a SHA-256: {hex_digest:?}")))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(raw))
}

fn presigning(ttl: Duration) -> StoreResult<PresigningConfig> {
    PresigningConfig::expires_in(ttl)
        .map_err(|e| StoreError::Config(format!("a presigned URL cannot last {ttl:?}: {e}")))
}

fn presigned(req: &PresignedRequest, ttl: Duration) -> Presigned {
    Presigned {
        method: req.method().to_owned(),
        url: req.uri().to_owned(),
        headers: req
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        expires_at: Utc::now()
            + chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::seconds(0)),
    }
}

fn key_ok(key: &str) -> StoreResult<()> {
    if valid_key(key) {
        Ok(())
    } else {
        Err(StoreError::Config(format!("not an object key: {key:?}")))
    }
}

impl S3Objects {
    /// A client of the bucket. Nothing is sent until the first request; [`Self::check`] asks.
    pub fn new(config: &S3Config) -> Self {
        let client = Self::client_for(config, config.endpoint.as_deref());
        let presigner = match &config.public_endpoint {
            Some(public) => Self::client_for(config, Some(public)),
            None => client.clone(),
        };
        Self {
            client,
            presigner,
            bucket: config.bucket.clone(),
        }
    }

    fn client_for(config: &S3Config, endpoint: Option<&str>) -> Client {
        let credentials = Credentials::new(
            config.access_key_id.clone(),
            config.secret_access_key.expose_secret().to_owned(),
            None,
            None,
            "loanwatch-config",
        );
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(config.path_style)
            // Checksums are what we bind explicitly (SHA-256), not a CRC the SDK would add to
            // presigned URLs computed over an empty body.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired);
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Client::from_conf(builder.build())
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The SDK client (for tools that talk to the bucket directly, such as the benchmark).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether the bucket answers.
    pub async fn check(&self) -> StoreResult<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| failed("the bucket does not answer", e))?;
        Ok(())
    }

    /// Size and verified SHA-256 of an object; `None` if absent.
    pub async fn stat(&self, key: &str) -> StoreResult<Option<ObjectStat>> {
        key_ok(key)?;
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
        {
            Ok(head) => Ok(Some(ObjectStat {
                size: head.content_length().unwrap_or(0).max(0) as u64,
                // A multipart object's checksum is of its parts ("…-N"): not the object's.
                sha256: head.checksum_sha256().and_then(hex_of_base64),
            })),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(failed("reading an object's size", e)),
        }
    }

    /// An object's length and body stream; `None` if absent.
    async fn get(
        &self,
        key: &str,
        range: Option<String>,
    ) -> StoreResult<Option<(u64, ByteStream)>> {
        key_ok(key)?;
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_range(range)
            .send()
            .await
        {
            Ok(out) => Ok(Some((
                out.content_length().unwrap_or(0).max(0) as u64,
                out.body,
            ))),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(failed("reading an object", e)),
        }
    }

    /// Feeds every chunk of a body to `f`, which stops the read by answering `false`.
    async fn drain(mut body: ByteStream, mut f: impl FnMut(&[u8]) -> bool) -> StoreResult<bool> {
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| StoreError::ObjectStorage(format!("reading an object: {e}")))?
        {
            if !f(&chunk) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub(super) async fn digest(&self, key: &str) -> StoreResult<Option<ObjectDigest>> {
        let Some((_, body)) = self.get(key, None).await? else {
            return Ok(None);
        };
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        Self::drain(body, |chunk| {
            hasher.update(chunk);
            size += chunk.len() as u64;
            true
        })
        .await?;
        Ok(Some(ObjectDigest {
            size,
            sha256: hex::encode(hasher.finalize()),
        }))
    }

    /// One GET: its length says whether the object is too long before the body is read.
    pub(super) async fn read(&self, key: &str, max: u64) -> StoreResult<Option<Vec<u8>>> {
        let Some((len, body)) = self.get(key, None).await? else {
            return Ok(None);
        };
        if len > max {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        let whole = Self::drain(body, |chunk| {
            let fits = (bytes.len() + chunk.len()) as u64 <= max;
            if fits {
                bytes.extend_from_slice(chunk);
            }
            fits
        })
        .await?;
        Ok(whole.then_some(bytes))
    }

    pub(super) async fn head_bytes(&self, key: &str, n: usize) -> StoreResult<Vec<u8>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let range = format!("bytes=0-{}", n - 1);
        let Some((_, body)) = self.get(key, Some(range)).await? else {
            return Err(StoreError::ObjectStorage(format!("{key} is missing")));
        };
        let mut bytes = body
            .collect()
            .await
            .map_err(|e| StoreError::ObjectStorage(format!("reading an object: {e}")))?
            .to_vec();
        bytes.truncate(n);
        Ok(bytes)
    }

    pub(super) async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> StoreResult<()> {
        key_ok(key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| failed("writing an object", e))?;
        Ok(())
    }

    pub(super) async fn delete(&self, key: &str) -> StoreResult<()> {
        key_ok(key)?;
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(failed("removing an object", e)),
        }
    }

    /// A presigned PUT of exactly `size` bytes of `content_type` whose SHA-256 is `sha256_hex`.
    pub async fn presign_put(
        &self,
        key: &str,
        size: u64,
        sha256_hex: &str,
        content_type: &str,
        ttl: Duration,
    ) -> StoreResult<Presigned> {
        key_ok(key)?;
        let req = self
            .presigner
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .content_type(content_type)
            .checksum_sha256(base64_of_hex(sha256_hex)?)
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| failed("presigning an upload", e))?;
        Ok(presigned(&req, ttl))
    }

    /// A presigned GET that answers with `content_type`.
    pub async fn presign_get(
        &self,
        key: &str,
        content_type: &str,
        ttl: Duration,
    ) -> StoreResult<Presigned> {
        key_ok(key)?;
        let req = self
            .presigner
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type(content_type)
            .response_cache_control("private, no-store")
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| failed("presigning a download", e))?;
        Ok(presigned(&req, ttl))
    }

    /// Starts a multipart upload; returns its id.
    pub async fn start_multipart(&self, key: &str, content_type: &str) -> StoreResult<String> {
        key_ok(key)?;
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| failed("starting a multipart upload", e))?;
        out.upload_id()
            .map(str::to_owned)
            .ok_or_else(|| StoreError::ObjectStorage("no upload id in the answer".into()))
    }

    /// A presigned PUT of part `number` (1-based), of exactly `size` bytes.
    pub async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        number: u32,
        size: u64,
        ttl: Duration,
    ) -> StoreResult<Presigned> {
        key_ok(key)?;
        let req = self
            .presigner
            .upload_part()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .part_number(i32::try_from(number).unwrap_or(i32::MAX))
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .presigned(presigning(ttl)?)
            .await
            .map_err(|e| failed("presigning a part", e))?;
        Ok(presigned(&req, ttl))
    }

    /// The parts the storage holds; `None` when the upload is unknown (completed or aborted).
    pub async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> StoreResult<Option<Vec<UploadedPart>>> {
        key_ok(key)?;
        let mut parts = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page = match self
                .client
                .list_parts()
                .bucket(&self.bucket)
                .key(key)
                .upload_id(upload_id)
                .set_part_number_marker(marker.clone())
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) if not_found(&e) => return Ok(None),
                Err(e) => return Err(failed("listing the parts of an upload", e)),
            };
            for p in page.parts() {
                if let Some(n) = p.part_number().and_then(|n| u32::try_from(n).ok()) {
                    parts.push(UploadedPart {
                        number: n,
                        size: p.size().unwrap_or(0).max(0) as u64,
                        etag: p.e_tag().map(str::to_owned),
                    });
                }
            }
            match (page.is_truncated(), page.next_part_number_marker()) {
                (Some(true), Some(next)) if marker.as_deref() != Some(next) => {
                    marker = Some(next.to_owned());
                }
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.number);
        parts.dedup_by_key(|p| p.number);
        Ok(Some(parts))
    }

    /// Joins the parts into the object.
    pub async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[UploadedPart],
    ) -> StoreResult<()> {
        key_ok(key)?;
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|p| {
                        CompletedPart::builder()
                            .part_number(i32::try_from(p.number).unwrap_or(i32::MAX))
                            .set_e_tag(p.etag.clone())
                            .build()
                    })
                    .collect(),
            ))
            .build();
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(completed)
            .send()
            .await
            .map_err(|e| failed("completing a multipart upload", e))?;
        Ok(())
    }

    /// Gives up a multipart upload and its parts (unknown is fine).
    pub async fn abort_multipart(&self, key: &str, upload_id: &str) -> StoreResult<()> {
        key_ok(key)?;
        match self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(failed("aborting a multipart upload", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_travels_as_base64() -> StoreResult<()> {
        let hex_digest = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";
        let b64 = base64_of_hex(hex_digest)?;
        assert_eq!(b64, "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
        assert_eq!(hex_of_base64(&b64).as_deref(), Some(hex_digest));
        assert_eq!(hex_of_base64("AAAA"), None);
        assert!(base64_of_hex("xyz").is_err());
        Ok(())
    }
}
