//! The one error type of the engine: every failure names what a user can act on.

use std::io;
use std::path::PathBuf;

/// What kind of failure an [`Error`] is, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The operating system refused an operation (permissions, I/O error, ...).
    Io,
    /// The disk (or the file system's quota) is full; free space and retry.
    DiskFull,
    /// Data on disk failed its checksum or is structurally impossible.
    Corruption,
    /// Another process holds the data directory.
    Locked,
    /// The caller passed something the store cannot accept.
    InvalidArgument,
    /// A key, value or batch is above a configured limit.
    TooLarge,
    /// An earlier write or sync failed; the store refuses writes it could not make durable.
    Poisoned,
    /// The store was closed (`Db::close`, or the server shutting down): open it again.
    Closed,
    /// The key holds a value of another type (a string where a hash was asked for...).
    WrongType,
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A CrownDB failure. The message says which file, key or limit is involved and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },

    #[error(
        "disk full while writing {path}: free space on that file system (or raise its quota) and retry; nothing acknowledged was lost"
    )]
    DiskFull { path: PathBuf, source: io::Error },

    #[error("corrupt data in {path} at offset {offset}: {reason}; run `crowndb check` on the data directory")]
    Corruption { path: PathBuf, offset: u64, reason: String },

    #[error("data directory {path} is locked by another process (lock file {path}/LOCK); stop that process or use another directory")]
    Locked { path: PathBuf },

    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    #[error("{what} is {size} bytes, above the limit of {limit} bytes")]
    TooLarge { what: &'static str, size: u64, limit: u64 },

    #[error(
        "the store stopped accepting writes because writing or syncing its files failed ({0}): what reached the disk is uncertain, \
         so nothing more is acknowledged; reads still work; fix the cause (see the kernel log) and reopen the store (restart the server)"
    )]
    Poisoned(String),

    #[error("the store in {path} is closed: it accepts no more writes; open it again (Db::open) to write")]
    Closed { path: PathBuf },

    /// Redis's words, which clients match on.
    #[error("WRONGTYPE Operation against a key holding the wrong kind of value")]
    WrongType,
}

impl Error {
    /// The kind of failure, for callers that branch on it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::Io,
            Error::DiskFull { .. } => ErrorKind::DiskFull,
            Error::Corruption { .. } => ErrorKind::Corruption,
            Error::Locked { .. } => ErrorKind::Locked,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::TooLarge { .. } => ErrorKind::TooLarge,
            Error::Poisoned(_) => ErrorKind::Poisoned,
            Error::Closed { .. } => ErrorKind::Closed,
            Error::WrongType => ErrorKind::WrongType,
        }
    }

    /// Wraps an `io::Error` with the path it concerns; "no space" becomes [`Error::DiskFull`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        let path = path.into();
        let full = matches!(source.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT));
        if full {
            Error::DiskFull { path, source }
        } else {
            Error::Io { path, source }
        }
    }

    pub(crate) fn corruption(path: impl Into<PathBuf>, offset: u64, reason: impl Into<String>) -> Error {
        Error::Corruption { path: path.into(), offset, reason: reason.into() }
    }
}
