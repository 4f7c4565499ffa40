//! Why the server could not start or stop cleanly. Errors of one client's requests are protocol
//! replies, never a `ServerError`.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// A failure to start, run or stop the server.
#[derive(Debug, Error)]
pub enum ServerError {
    /// A setting is invalid (the message names it).
    #[error("{0}")]
    Config(String),
    /// The store could not be opened.
    #[error("opening the store in {dir}: {source}")]
    Open { dir: PathBuf, source: crowndb::Error },
    /// A listener could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind { addr: String, source: io::Error },
    /// Another I/O failure (starting the runtime, installing signal handlers).
    #[error("{context}: {source}")]
    Io { context: &'static str, source: io::Error },
    /// The store failed while syncing or closing at shutdown.
    #[error("closing the store: {0}")]
    Close(crowndb::Error),
    /// The server's thread panicked (a bug, not a setting): the message is the panic's.
    #[error("the server thread panicked: {0}")]
    Panicked(String),
}

impl ServerError {
    /// The error for a thread that ended in a panic with this payload.
    pub(crate) fn panicked(payload: Box<dyn std::any::Any + Send>) -> ServerError {
        let message = match payload.downcast::<String>() {
            Ok(text) => *text,
            Err(payload) => payload.downcast::<&'static str>().map_or_else(|_| "(no message)".to_string(), |text| text.to_string()),
        };
        ServerError::Panicked(message)
    }
}
