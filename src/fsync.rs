//! Making directory entries durable, for the modules that create files.

use std::fs::File;
use std::io;
use std::path::Path;

/// Makes the entries of directory `dir` durable: `sync_data` on a file
/// does not cover the file's name, so a crash could lose a file just
/// created (or bring back one just deleted) that syncs had vouched for.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir; // directories cannot be opened to sync them there
    Ok(())
}

/// [`sync_dir`] for the directory that holds `path`.
pub(crate) fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir),
        _ => sync_dir(Path::new(".")),
    }
}
