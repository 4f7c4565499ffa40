//! Disk space and directory durability for segment files.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use crate::error::{Error, Result};

/// Reserves `len` bytes of real disk space so a full disk shows up here, as an error,
/// rather than as a fault when a mapped page is first written.
pub fn preallocate(path: &Path, file: &File, len: u64) -> Result<()> {
    // SAFETY: `posix_fallocate` only reads its integer arguments; `file` is open for
    // writing and outlives the call, so the descriptor is valid.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len as libc::off_t) };
    match rc {
        0 => Ok(()),
        libc::EOPNOTSUPP | libc::EINVAL => file.set_len(len).map_err(|e| Error::io(path, e)),
        code => Err(Error::io(path, std::io::Error::from_raw_os_error(code))),
    }
}

/// Makes a directory entry change (a new or removed file) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))
}
