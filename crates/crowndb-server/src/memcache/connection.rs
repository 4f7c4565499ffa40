//! What a memcached connection adds to the shared connection loop (`net::serve`): the error
//! rules of [`ProtocolError`] and the buffering they need.
//!
//! A refused data block (value too large, bad line) is discarded as it arrives ("swallowed"),
//! never buffered, so the buffer holds at most one request line plus one value of the size
//! limit. An incomplete request line is searched for its newline only past what was searched
//! before. The connection closes on `quit` and on a line over the limit; with durability
//! `always`, the batch's writes are synced before its replies go out.

use std::io;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::sync::watch;

use super::cmd::{engine_error, Flow, Handler, UNAUTHENTICATED};
use super::parse::line_limit;
use super::{parse, reply, ErrorKind, Limits};
use crate::net::{serve, Pass, Protocol, Stream, MAX_PENDING_OUTPUT};
use crate::stats::{add, incr, BufferShare};

/// A memcached connection: its stream and its protocol state.
pub struct Connection {
    stream: Stream,
    protocol: Memcached,
}

/// The memcached side of a connection, for [`serve`].
struct Memcached {
    handler: Handler,
    limits: Limits,
    idle_timeout: Option<Duration>,
    /// Bytes of a refused data block still to discard as they arrive.
    swallow: usize,
    /// Bytes at the front of the read buffer known to hold no newline: an incomplete request
    /// line is searched only past them, so a long line sent in small pieces is scanned once
    /// rather than once per piece (quadratic work for a 1 MiB `get` line sent a few bytes at a
    /// time).
    scanned: usize,
}

impl Connection {
    pub fn new(stream: Stream, handler: Handler, limits: Limits, idle_timeout: Option<Duration>) -> Connection {
        Connection { stream, protocol: Memcached { handler, limits, idle_timeout, swallow: 0, scanned: 0 } }
    }

    /// Serves the connection until it ends. `shutdown` turns true when the server stops.
    pub async fn run(mut self, shutdown: watch::Receiver<bool>) -> io::Result<()> {
        let mut share = BufferShare::new(self.protocol.handler.stats.clone());
        serve(&mut self.stream, &mut self.protocol, &mut share, shutdown).await
    }
}

impl Protocol for Memcached {
    const EVICTED: &'static str = "SERVER_ERROR out of memory";

    fn process(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> Pass {
        let mut pass = self.run_requests(input, output);
        pass.durable = self.handler.finish_batch();
        pass
    }

    fn durability_failed(&mut self, err: crowndb::Error, output: &mut BytesMut) {
        // Nothing of this batch may be acknowledged: its writes are not known to be on disk.
        output.clear();
        engine_error(output, &err);
    }

    fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    fn count_read(&self, n: usize) {
        add(&self.handler.stats.counters.bytes_read, n as u64);
    }

    fn count_written(&self, n: usize) {
        add(&self.handler.stats.counters.bytes_written, n as u64);
    }
}

impl Memcached {
    /// Parses and applies every complete request in `input`, appending the replies.
    fn run_requests(&mut self, buf: &mut BytesMut, out: &mut BytesMut) -> Pass {
        let input = &buf[..];
        let mut at = 0;
        let mut pass = Pass::default();
        let mut scanned = std::mem::take(&mut self.scanned);
        loop {
            if self.swallow > 0 {
                let skip = self.swallow.min(input.len() - at);
                at += skip;
                self.swallow -= skip;
                if self.swallow > 0 {
                    break;
                }
            }
            if out.len() >= MAX_PENDING_OUTPUT {
                pass.more = at < input.len();
                break;
            }
            let rest = &input[at..];
            // No newline in what arrived since the last look, and the line not over its limit yet.
            let no_end_yet = scanned > 0 && memchr::memchr(b'\n', &rest[scanned.min(rest.len())..]).is_none();
            if no_end_yet && rest.len() <= line_limit(rest, &self.limits) {
                scanned = rest.len();
                break;
            }
            scanned = 0;
            match parse(rest, &self.limits) {
                Ok(Some((command, used))) => {
                    at += used;
                    if self.handler.apply(command, out) == Flow::Close {
                        pass.close = true;
                        break;
                    }
                }
                Ok(None) => {
                    // Waiting for the end of the line, or for the rest of a data block.
                    scanned = if memchr::memchr(b'\n', rest).is_none() { rest.len() } else { 0 };
                    break;
                }
                Err(err) if err.kind == ErrorKind::UnknownCommand && !self.handler.authenticated() => {
                    // Before login an unknown command is refused like any other, as memcached does.
                    out.extend_from_slice(UNAUTHENTICATED);
                    at += err.consumed;
                    self.swallow = err.swallow;
                }
                Err(err) => {
                    reply::protocol_error(out, &err);
                    if err.kind == ErrorKind::TooLarge {
                        incr(&self.handler.stats.counters.store_too_large);
                    }
                    if err.closes_connection() {
                        pass.close = true;
                        break;
                    }
                    at += err.consumed;
                    self.swallow = err.swallow;
                }
            }
        }
        buf.advance(at);
        self.scanned = scanned;
        pass
    }
}
