//! An in-memory `Storage` that can crash: what was not synced is lost (a
//! sealed segment is synced only by `Storage::sync`), and so are names
//! created or deleted since the last `Storage::sync`, as a directory
//! without an `fsync` would lose them. It also shows that the
//! trait can be implemented outside the crate.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use mwsr::segments::{Entry, Naming, SegmentWrite, Storage};

#[derive(Debug, Default)]
pub struct Memory {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default, Clone)]
struct State {
    files: BTreeMap<String, File>,
    /// Deleted, but not durably: a crash brings them back.
    deleted: BTreeMap<String, File>,
    locked: bool,
    fail_writes: bool,
}

#[derive(Debug, Clone)]
struct File {
    data: Vec<u8>,
    synced: usize,
    /// Sealed, and synced only at the next `Storage::sync`.
    sealed: bool,
    durable_name: bool,
    modified: SystemTime,
}

impl Memory {
    /// What a crash now leaves: synced bytes under durable names.
    pub fn crash(&self) -> Memory {
        let state = self.state.lock().unwrap().clone();
        let mut files = state.files;
        files.extend(state.deleted);
        files.retain(|_, f| f.durable_name);
        for file in files.values_mut() {
            file.data.truncate(file.synced);
        }
        Memory {
            state: Arc::new(Mutex::new(State {
                files,
                ..State::default()
            })),
        }
    }

    /// The stream's bytes, segment after segment.
    pub fn stream(&self, naming: &Naming) -> Vec<u8> {
        let state = self.state.lock().unwrap();
        let mut segments: Vec<(u64, &File)> = state
            .files
            .iter()
            .filter_map(|(name, f)| Some((naming.parse(name)?, f)))
            .collect();
        segments.sort_by_key(|(base, _)| *base);
        segments.iter().flat_map(|(_, f)| f.data.clone()).collect()
    }

    /// Every later segment write fails.
    pub fn fail_writes(&self) {
        self.state.lock().unwrap().fail_writes = true;
    }

    /// Writes work again.
    pub fn heal(&self) {
        self.state.lock().unwrap().fail_writes = false;
    }
}

impl Storage for Memory {
    fn list(&self, prefix: &str, after: Option<&str>) -> io::Result<Vec<Entry>> {
        let state = self.state.lock().unwrap();
        Ok(state
            .files
            .iter()
            .filter(|(name, _)| name.starts_with(prefix) && after.is_none_or(|a| name.as_str() > a))
            .map(|(name, f)| Entry {
                name: name.clone(),
                len: f.data.len() as u64,
                modified: Some(f.modified),
            })
            .collect())
    }

    fn read(&self, name: &str, offset: u64, len: u64) -> io::Result<Box<dyn io::Read + Send>> {
        let state = self.state.lock().unwrap();
        let file = state
            .files
            .get(name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, name.to_owned()))?;
        let start = (offset as usize).min(file.data.len());
        let end = start.saturating_add(len as usize).min(file.data.len());
        Ok(Box::new(io::Cursor::new(file.data[start..end].to_vec())))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn SegmentWrite>> {
        let mut state = self.state.lock().unwrap();
        if state.files.contains_key(name) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                name.to_owned(),
            ));
        }
        state.files.insert(
            name.to_owned(),
            File {
                data: Vec::new(),
                synced: 0,
                sealed: false,
                durable_name: false,
                modified: SystemTime::now(),
            },
        );
        Ok(Box::new(Segment {
            state: self.state.clone(),
            name: name.to_owned(),
        }))
    }

    fn delete(&self, name: &str) -> io::Result<()> {
        let mut state = self.state.lock().unwrap();
        if let Some(file) = state.files.remove(name)
            && file.durable_name
        {
            state.deleted.insert(name.to_owned(), file);
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        let mut state = self.state.lock().unwrap();
        for file in state.files.values_mut() {
            file.durable_name = true;
            if file.sealed {
                file.synced = file.data.len();
            }
        }
        state.deleted.clear();
        Ok(())
    }

    fn syncs_open_segments(&self) -> bool {
        true
    }

    fn lock(&self, _lock_name: &str) -> io::Result<Box<dyn Send + Sync>> {
        let mut state = self.state.lock().unwrap();
        if state.locked {
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "locked"));
        }
        state.locked = true;
        Ok(Box::new(Unlock(self.state.clone())))
    }
}

struct Unlock(Arc<Mutex<State>>);

impl Drop for Unlock {
    fn drop(&mut self) {
        self.0.lock().unwrap().locked = false;
    }
}

struct Segment {
    state: Arc<Mutex<State>>,
    name: String,
}

impl Segment {
    fn with<R>(&self, f: impl FnOnce(&mut File) -> R) -> io::Result<R> {
        let mut state = self.state.lock().unwrap();
        if state.fail_writes {
            return Err(io::Error::other("an injected write failure"));
        }
        let file = state
            .files
            .get_mut(&self.name)
            .expect("a segment being written");
        Ok(f(file))
    }
}

impl SegmentWrite for Segment {
    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.with(|f| f.data.extend_from_slice(data))
    }

    fn sync(&mut self) -> io::Result<()> {
        self.with(|f| f.synced = f.data.len())
    }

    fn seal(self: Box<Self>) -> io::Result<()> {
        self.with(|f| f.sealed = true)
    }
}
