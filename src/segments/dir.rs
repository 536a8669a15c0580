//! [`Dir`]: segments as files in a local directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::storage::{Entry, SegmentWrite, Storage};
use crate::fsync::sync_dir;
use crate::sync::Mutex;

/// A local directory of segment files.
///
/// Segments are created with `create_new` (never over an existing file).
/// [`Storage::sync`] `fsync`s every segment sealed since the last one (a
/// seal itself does not wait for the device), then the directory if files
/// were created or deleted, so that a crash cannot lose a segment whose
/// data was synced. The writer's claim is an advisory
/// lock (`flock`) on a lock file, released by the kernel if the process
/// dies.
#[derive(Debug, Clone)]
pub struct Dir {
    path: PathBuf,
    unsynced: Arc<Mutex<Unsynced>>,
}

/// What [`Storage::sync`] has to make durable.
#[derive(Debug, Default)]
struct Unsynced {
    /// Segments sealed since, by path: reopened to `fsync` (an `fsync`
    /// covers the file, whatever descriptor it is called on), so that
    /// sealed segments hold no descriptors meanwhile.
    sealed: Vec<PathBuf>,
    /// Whether files were created or deleted since.
    names: bool,
}

impl Dir {
    /// The directory at `path`, created (with its parents) if missing.
    ///
    /// # Errors
    /// Creating the directory.
    pub fn new(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        fs::create_dir_all(&path)?;
        Ok(Self {
            path,
            unsynced: Arc::new(Mutex::new(Unsynced::default())),
        })
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
        let path = self.path.join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        self.unsynced.lock().names = true;
        Ok(Box::new(DirSegment {
            file,
            path,
            unsynced: self.unsynced.clone(),
        }))
    }

    fn delete(&self, name: &str) -> io::Result<()> {
        self.unsynced.lock().names = true;
        match fs::remove_file(self.path.join(name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn sync(&self) -> io::Result<()> {
        let (sealed, names) = {
            let mut unsynced = self.unsynced.lock();
            (
                std::mem::take(&mut unsynced.sealed),
                std::mem::take(&mut unsynced.names),
            )
        };
        let result = sync_files(&sealed).and_then(|()| match names {
            true => sync_dir(&self.path),
            false => Ok(()),
        });
        if result.is_err() {
            // Still owed: a retry (or the next writer's first sync) tries again.
            let mut unsynced = self.unsynced.lock();
            unsynced.sealed.extend(sealed);
            unsynced.names |= names;
        }
        result
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

/// `fsync`s each of `paths`, skipping files deleted since (by retention).
fn sync_files(paths: &[PathBuf]) -> io::Result<()> {
    for path in paths {
        match File::open(path) {
            Ok(file) => file.sync_data()?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// An open segment file.
struct DirSegment {
    file: File,
    path: PathBuf,
    unsynced: Arc<Mutex<Unsynced>>,
}

impl SegmentWrite for DirSegment {
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn seal(self: Box<Self>) -> io::Result<()> {
        // Written with `write_all` already; durable at the next sync.
        self.unsynced.lock().sealed.push(self.path);
        Ok(())
    }
}
