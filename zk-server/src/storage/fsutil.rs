//! Small filesystem helpers: directory fsync and path-annotated I/O errors.

use std::fs::File;
use std::io;
use std::path::Path;

/// Fsyncs a directory so that file creations, renames and removals in it are durable.
pub(crate) fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Adds the path to an I/O error's message.
pub(crate) fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
