//! [`Member`]: what a mirror is made of, and its implementations for a
//! file and for memory.

use std::io;

use crate::sync::{Arc, Mutex};

/// One copy of a mirrored file: anything that reads and writes at an offset
/// and syncs. Implemented for [`std::fs::File`] (on Unix, through
/// `FileExt::read_at`/`write_at`), for [`Memory`], and for `Arc<M>` (so a
/// test can keep a handle on a member it gave away).
///
/// The mirror calls a member from several threads at once (`&self`): the
/// writers for a synchronous member, its flusher thread for a write-behind
/// one, a reader, a resync. A panic in any method is contained: the member
/// is marked failed with it, as with an error.
pub trait Member: Send + Sync {
    /// Reads at `offset`, as `FileExt::read_at`: `Ok(0)` at or past the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Writes at `offset`, as `FileExt::write_at`: it may write less.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize>;

    /// Makes everything written durable (`File::sync_all`).
    fn sync(&self) -> io::Result<()>;

    /// The member's length in bytes.
    fn len(&self) -> io::Result<u64>;

    /// Whether [`len`](Self::len) is 0.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Cuts or extends the member to `len` bytes; a resync calls it when the
    /// member it fills is longer than its source. The default refuses
    /// (`Unsupported`), and a resync then leaves the extra bytes.
    fn set_len(&self, _len: u64) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this member cannot change its length",
        ))
    }

    /// The most bytes the member can hold (a block device's size), if it
    /// has a bound: the mirror refuses a write that ends past it before
    /// writing anything, instead of failing the member.
    fn limit(&self) -> Option<u64> {
        None
    }

    /// Writes all of `buf` at `offset`.
    fn write_all_at(&self, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write_at(buf, offset) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    buf = &buf[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
impl Member for std::fs::File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::write_at(self, buf, offset)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        self.sync_all()
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        std::fs::File::set_len(self, len)
    }
}

impl<M: Member + ?Sized> Member for std::sync::Arc<M> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_at(buf, offset)
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        (**self).write_at(buf, offset)
    }
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        (**self).write_all_at(buf, offset)
    }
    fn sync(&self) -> io::Result<()> {
        (**self).sync()
    }
    fn len(&self) -> io::Result<u64> {
        (**self).len()
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        (**self).set_len(len)
    }
    fn limit(&self) -> Option<u64> {
        (**self).limit()
    }
}

/// A member in memory: for tests (also loom models: its lock is loom's
/// under `--cfg loom`) and for a mirror whose fast copy is RAM. Cloning
/// gives another handle on the same bytes.
#[derive(Debug, Clone)]
pub struct Memory {
    bytes: Arc<Mutex<Vec<u8>>>,
    limit: Option<u64>,
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

impl Memory {
    /// An empty member without a bound.
    pub fn new() -> Self {
        Self {
            bytes: Arc::new(Mutex::new(Vec::new())),
            limit: None,
        }
    }

    /// An empty member that holds at most `limit` bytes.
    pub fn with_limit(limit: u64) -> Self {
        Self {
            limit: Some(limit),
            ..Self::new()
        }
    }

    /// A copy of its bytes.
    pub fn contents(&self) -> Vec<u8> {
        self.bytes.lock().clone()
    }
}

impl Member for Memory {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let bytes = self.bytes.lock();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        Ok(n)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&end| self.limit.is_none_or(|limit| end <= limit))
            .and_then(|end| usize::try_from(end).ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::StorageFull, "past the member's limit"))?;
        let mut bytes = self.bytes.lock();
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[end - buf.len()..end].copy_from_slice(buf);
        Ok(buf.len())
    }

    fn sync(&self) -> io::Result<()> {
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.bytes.lock().len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
        self.bytes.lock().resize(len, 0);
        Ok(())
    }

    fn limit(&self) -> Option<u64> {
        self.limit
    }
}
