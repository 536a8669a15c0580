//! [`Dir`]: segments as files in a local directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::storage::{Entry, SegmentWrite, Storage};

/// A local directory of segment files.
///
/// Segments are created with `create_new` (never over an existing file),
/// `fsync`ed when a `sync()` or a seal asks, and the directory itself is
/// `fsync`ed after files were created or deleted, so that a crash cannot
/// lose a segment whose data was synced. The writer's claim is an advisory
/// lock (`flock`) on a lock file, released by the kernel if the process
/// dies.
#[derive(Debug, Clone)]
pub struct Dir {
    path: PathBuf,
}

impl Dir {
    /// The directory at `path`, created (with its parents) if missing.
    ///
    /// # Errors
    /// Creating the directory.
    pub fn new(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        fs::create_dir_all(&path)?;
        Ok(Self { path })
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Storage for Dir {
    fn list(&self, prefix: &str, after: Option<&str>) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for dirent in fs::read_dir(&self.path)? {
            let dirent = dirent?;
            let Ok(name) = dirent.file_name().into_string() else {
                continue; // not UTF-8: not one of ours
            };
            if !name.starts_with(prefix) || after.is_some_and(|after| *name <= *after) {
                continue;
            }
            let meta = match dirent.metadata() {
                Ok(meta) => meta,
                // Deleted between the listing and now (retention): gone.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if meta.is_file() {
                entries.push(Entry {
                    name,
                    len: meta.len(),
                    modified: meta.modified().ok(),
                });
            }
        }
        Ok(entries)
    }

    fn read(&self, name: &str, offset: u64, len: u64) -> io::Result<Box<dyn Read + Send>> {
        let mut file = File::open(self.path.join(name))?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(file.take(len)))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn SegmentWrite>> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.path.join(name))?;
        Ok(Box::new(DirSegment { file }))
    }

    fn delete(&self, name: &str) -> io::Result<()> {
        match fs::remove_file(self.path.join(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn sync_names(&self) -> io::Result<()> {
        #[cfg(unix)]
        File::open(&self.path)?.sync_all()?;
        Ok(())
    }

    fn syncs_open_segments(&self) -> bool {
        true
    }

    fn lock(&self, lock_name: &str) -> io::Result<Box<dyn Send + Sync>> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(self.path.join(lock_name))?;
        match file.try_lock() {
            Ok(()) => Ok(Box::new(file)), // unlocked when the file is closed
            Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "mwsr::segments: another writer holds {}",
                    self.path.join(lock_name).display()
                ),
            )),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

/// An open segment file.
struct DirSegment {
    file: File,
}

impl SegmentWrite for DirSegment {
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn seal(self: Box<Self>) -> io::Result<()> {
        self.file.sync_data()
    }
}
