//! The embedded object storage: files under a directory of the data directory. Uploads and
//! downloads go through short-lived signed URLs that the server itself serves.

use std::{
    fs,
    io::{Read, Write},
    path::{Path, PathBuf},
};

use sha2::{Digest, Sha256};

use super::{ObjectDigest, valid_key};
use crate::{StoreError, StoreResult};

/// Objects as files under a directory.
#[derive(Debug, Clone)]
pub struct LocalObjects {
    root: PathBuf,
}

/// An upload being written: bytes go to a temporary file and are hashed on the way; the object
/// appears under its key only once [`Incoming::finish`] is called.
#[derive(Debug)]
pub struct Incoming {
    file: fs::File,
    temp: PathBuf,
    target: PathBuf,
    hasher: Sha256,
    size: u64,
}

impl Incoming {
    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> StoreResult<()> {
        self.file.write_all(bytes).map_err(io)?;
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Makes the object visible under its key if `accept` approves its digest; otherwise
    /// discards it. Returns the digest either way.
    pub fn finish(
        self,
        accept: impl FnOnce(&ObjectDigest) -> bool,
    ) -> StoreResult<(ObjectDigest, bool)> {
        let digest = ObjectDigest {
            size: self.size,
            sha256: hex::encode(self.hasher.finalize()),
        };
        self.file.sync_all().map_err(io)?;
        drop(self.file);
        if accept(&digest) {
            fs::rename(&self.temp, &self.target).map_err(io)?;
            // The rename is durable only once its directory is: the upload is acknowledged
            // after this.
            if let Some(dir) = self.target.parent() {
                fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
            }
            Ok((digest, true))
        } else {
            fs::remove_file(&self.temp).map_err(io)?;
            Ok((digest, false))
        }
    }

    /// Discards the upload.
    pub fn abort(self) {
        drop(self.file);
        let _ = fs::remove_file(&self.temp);
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::ObjectStorage(e.to_string())
}

impl LocalObjects {
    /// Files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> StoreResult<PathBuf> {
        if !valid_key(key) {
            return Err(StoreError::Config(format!("not an object key: {key:?}")));
        }
        Ok(self.root.join(key))
    }

    /// Starts writing an object.
    pub fn incoming(&self, key: &str) -> StoreResult<Incoming> {
        let target = self.path(key)?;
        let temp_dir = self.root.join(".incoming");
        fs::create_dir_all(&temp_dir).map_err(io)?;
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io)?;
        }
        let temp = temp_dir.join(uuid::Uuid::now_v7().to_string());
        let file = fs::File::create(&temp).map_err(io)?;
        Ok(Incoming {
            file,
            temp,
            target,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// The size and SHA-256 of an object, read back from storage; `None` if absent.
    pub fn digest(&self, key: &str) -> StoreResult<Option<ObjectDigest>> {
        let path = self.path(key)?;
        let mut file = match fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut size = 0u64;
        loop {
            let n = file.read(&mut buf).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
        }
        Ok(Some(ObjectDigest {
            size,
            sha256: hex::encode(hasher.finalize()),
        }))
    }

    /// The first bytes of an object (to check its content type).
    pub fn head_bytes(&self, key: &str, n: usize) -> StoreResult<Vec<u8>> {
        let mut file = fs::File::open(self.path(key)?).map_err(io)?;
        let mut buf = vec![0u8; n];
        let mut filled = 0;
        while filled < n {
            let k = file.read(&mut buf[filled..]).map_err(io)?;
            if k == 0 {
                break;
            }
            filled += k;
        }
        buf.truncate(filled);
        Ok(buf)
    }

    /// The file of an object, for serving.
    pub fn open(&self, key: &str) -> StoreResult<Option<(fs::File, u64)>> {
        let path = self.path(key)?;
        match fs::File::open(&path) {
            Ok(f) => {
                let len = f.metadata().map_err(io)?.len();
                Ok(Some((f, len)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// Removes an object (absent is fine).
    pub fn delete(&self, key: &str) -> StoreResult<()> {
        match fs::remove_file(self.path(key)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        }
    }

    /// Writes a whole object.
    pub fn put(&self, key: &str, bytes: &[u8]) -> StoreResult<()> {
        let mut up = self.incoming(key)?;
        up.write(bytes)?;
        up.finish(|_| true)?;
        Ok(())
    }

    /// Up to `max` bytes of an object; `None` if it is absent or longer.
    pub fn read(&self, key: &str, max: u64) -> StoreResult<Option<Vec<u8>>> {
        let Some((file, len)) = self.open(key)? else {
            return Ok(None);
        };
        if len > max {
            return Ok(None);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(max).read_to_end(&mut bytes).map_err(io)?;
        Ok(Some(bytes))
    }

    /// An object's size; `None` if absent. The local storage keeps no checksum.
    pub fn stat(&self, key: &str) -> StoreResult<Option<super::ObjectStat>> {
        match fs::metadata(self.path(key)?) {
            Ok(m) => Ok(Some(super::ObjectStat {
                size: m.len(),
                sha256: None,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// Whether the root exists or can be made.
    pub fn check(&self) -> StoreResult<()> {
        fs::create_dir_all(&self.root).map_err(io)
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_appears_only_when_accepted() -> StoreResult<()> {
        let dir = std::env::temp_dir().join(format!("lw-objects-{}", uuid::Uuid::now_v7()));
        let store = LocalObjects::new(&dir);
        let mut up = store.incoming("evidence/t/e1")?;
        up.write(b"hello ")?;
        up.write(b"world")?;
        let (d, kept) = up.finish(|d| d.size == 11)?;
        assert!(kept);
        assert_eq!(
            d.sha256,
            "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
        );
        assert_eq!(store.digest("evidence/t/e1")?, Some(d));
        let mut bad = store.incoming("evidence/t/e2")?;
        bad.write(b"nope")?;
        let (_, kept) = bad.finish(|_| false)?;
        assert!(!kept);
        assert_eq!(store.digest("evidence/t/e2")?, None);
        store.delete("evidence/t/e1")?;
        assert_eq!(store.digest("evidence/t/e1")?, None);
        let _ = fs::remove_dir_all(dir);
        Ok(())
    }
}
