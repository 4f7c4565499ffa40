//! The Redis protocol's frame layer: requests in, replies out, with no I/O and no store.
//!
//! In the mini-redis layering this is `frame`: below it a connection reads bytes from a socket
//! into a `BytesMut` and writes bytes back; above it commands turn a request's arguments into a
//! reply `Frame`. Here:
//!
//! - `parse.rs`: `RequestParser` takes requests off the read buffer, multibulk or inline, as
//!   Redis 7's networking.c does, with its limits and its exact protocol errors.
//! - `inline.rs`: the splitting of an inline line into arguments (Redis's `sdssplitargs`).
//! - `frame.rs`: `Frame`, the RESP2 and RESP3 reply types.
//! - `encode.rs`: a `Frame` on the wire for the connection's protocol (RESP2 or RESP3).
//! - `error.rs`: `ProtocolError`, after which the connection is closed.
//! - `limits.rs`: `Limits`, the request size limits and their Redis defaults.
//! - `number.rs`: Redis's integer syntax and double formatting.
//!
//! A connection's loop, in outline:
//!
//! ```
//! use bytes::BytesMut;
//! use crowndb_server::resp::{encode, Frame, Protocol, RequestParser};
//!
//! let mut parser = RequestParser::default();
//! let mut input = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n"[..]); // filled by socket reads
//! let mut output = BytesMut::new(); // written to the socket
//! loop {
//!     match parser.decode(&mut input) {
//!         Ok(Some(request)) => {
//!             assert_eq!(&request.args[0][..], b"PING");
//!             encode(&Frame::simple("PONG"), Protocol::Resp2, &mut output);
//!         }
//!         Ok(None) => break, // read more from the socket, then decode again
//!         Err(err) => {
//!             if let Some(reply) = err.reply() {
//!                 encode(&reply, Protocol::Resp2, &mut output);
//!             }
//!             break; // flush the reply, then close the connection
//!         }
//!     }
//! }
//! assert_eq!(&output[..], b"+PONG\r\n");
//! ```

mod encode;
mod error;
mod frame;
mod inline;
mod limits;
mod number;
mod parse;

#[cfg(test)]
mod proptests;

pub use encode::{encode, encode_command, to_bytes, Protocol};
pub use error::ProtocolError;
pub use frame::Frame;
pub use limits::{Limits, UNAUTHENTICATED_MAX_BULK_LEN, UNAUTHENTICATED_MAX_MULTIBULK_LEN, UNAUTHENTICATED_MAX_QUERY_BUFFER};
pub use parse::{Request, RequestKind, RequestParser};

/// Redis's strict integer syntax (`string2ll`), for command arguments.
pub(crate) use number::string2ll as parse_integer;
