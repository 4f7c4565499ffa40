//! The memcached protocol's frame layer: text and meta commands parsed from bytes
//! ([`parse`]), replies encoded to bytes ([`reply`]). No I/O and no store here, so it is tested
//! and fuzzed on its own; the connection and command layers sit on top.
//!
//! - `command.rs`: the [`Command`] a request becomes, and expiration-time rules ([`expiry`]).
//! - `parse.rs`: [`parse`], the incremental parser, and its [`Limits`].
//! - `error.rs`: [`ProtocolError`], what bad input gets and what the connection must skip.
//! - `reply.rs`: every reply, `VALUE` lines to meta `VA`/`HD`.
//! - `base64.rs`: the meta commands' base64 keys.
//! - `cmd/`: the command layer: commands applied to the store (through `store/`), replies
//!   written, one file per command group.
//! - `connection.rs`: what a memcached connection adds to the shared loop (`net::serve`):
//!   swallowing refused data blocks, the newline scan, the login's unknown-command rule.
//! - `auth.rs`: the login of memcached's `-Y` auth file, checked by the command layer.
//!
//! A connection drives it like this:
//!
//! ```
//! use bytes::BytesMut;
//! use crowndb_server::memcache::{parse, reply, Command, Limits};
//!
//! let limits = Limits::default();
//! let input = b"set k 0 0 2\r\nhi\r\nget k nokey\r\nbogus\r\n";
//! let (mut at, mut out) = (0, BytesMut::new());
//! let mut swallow = 0; // bytes of a refused data block still to discard
//! loop {
//!     let skip = swallow.min(input.len() - at);
//!     (at, swallow) = (at + skip, swallow - skip);
//!     match parse(&input[at..], &limits) {
//!         Ok(Some((command, used))) => {
//!             match command {
//!                 Command::Store(_) => reply::stored(&mut out),
//!                 Command::Get(get) => {
//!                     for key in get.keys.iter().filter(|k| *k == b"k") {
//!                         reply::value(&mut out, key, 0, b"hi", None);
//!                     }
//!                     reply::end(&mut out);
//!                 }
//!                 _ => {}
//!             }
//!             at += used;
//!         }
//!         Ok(None) => break, // read more from the socket, then parse again
//!         Err(err) => {
//!             reply::protocol_error(&mut out, &err);
//!             if err.closes_connection() {
//!                 break;
//!             }
//!             at += err.consumed;
//!             swallow = err.swallow;
//!         }
//!     }
//! }
//! assert_eq!(&out[..], b"STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\nERROR\r\n");
//! ```

pub mod auth;
mod base64;
pub mod cmd;
mod command;
pub mod connection;
mod error;
mod parse;
pub mod reply;

#[cfg(test)]
mod proptests;

pub use command::{
    expiry, ArithMode, Command, Expiry, Get, MetaFlags, MetaSetMode, Store, StoreVerb, TokenIter, Tokens, MAX_META_FLAGS,
    RELATIVE_EXPTIME_MAX,
};
pub use error::{ClientError, ErrorKind, ProtocolError};
pub use parse::{parse, Limits};
pub use reply::{DebugInfo, ItemInfo, MetaStatus};
