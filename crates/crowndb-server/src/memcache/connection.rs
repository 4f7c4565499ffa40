//! One memcached client connection: buffered reading, pipelining, and the error rules of
//! [`ProtocolError`].
//!
//! Each turn reads what the socket has into one `BytesMut`, parses and applies every complete
//! request in it, and sends all their replies with one write (pipelining: a client that sends
//! 100 requests in one packet gets 100 replies in one packet). A request split across packets
//! waits in the buffer for the rest. A refused data block (value too large, bad line) is
//! discarded as it arrives ("swallowed"), never buffered, so the buffer holds at most one
//! request line plus one value of the size limit.
//!
//! The connection ends when the client closes, sends `quit`, sends a line over the limit, stays
//! idle past the idle timeout (sending nothing, or taking none of its replies), or when the
//! server shuts down (requests already read are answered first).

use std::io;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::cmd::{Flow, Handler};
use super::parse::line_limit;
use super::{parse, reply, ErrorKind, Limits};
use crate::stats::{incr, BufferShare};

use crate::net::{Stream, MAX_PENDING_OUTPUT};

/// A memcached connection and its buffers.
pub struct Connection {
    stream: Stream,
    handler: Handler,
    limits: Limits,
    idle_timeout: Option<Duration>,
    read_buf: BytesMut,
    write_buf: BytesMut,
    /// Bytes of a refused data block still to discard as they arrive.
    swallow: usize,
    /// This connection's part of the server's client memory (`max_client_memory`).
    share: BufferShare,
    /// Bytes at the front of `read_buf` known to hold no newline: an incomplete request line
    /// is searched only past them, so a long line sent in small pieces is scanned once rather
    /// than once per piece (quadratic work for a 1 MiB `get` line sent a few bytes at a time).
    scanned: usize,
}

/// What one pass over the read buffer ended with.
struct Pass {
    flow: Flow,
    /// Complete requests may remain in the buffer (the output limit stopped the pass).
    more: bool,
}

impl Connection {
    pub fn new(stream: Stream, handler: Handler, limits: Limits, idle_timeout: Option<Duration>) -> Connection {
        Connection {
            share: BufferShare::new(handler.stats.clone()),
            stream,
            handler,
            limits,
            idle_timeout,
            // Allocated when the first bytes arrive (net::refill): a connection that never
            // sends anything costs no buffer.
            read_buf: BytesMut::new(),
            write_buf: BytesMut::new(),
            swallow: 0,
            scanned: 0,
        }
    }

    /// Serves the connection until it ends. `shutdown` turns true when the server stops.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> io::Result<()> {
        loop {
            let pass = self.process();
            let mut flow = pass.flow;
            if let Err(e) = self.handler.finish_batch() {
                // Nothing of this batch may be acknowledged: its writes are not known to be on disk.
                self.write_buf.clear();
                super::cmd::engine_error(&mut self.write_buf, &e);
                flow = Flow::Close;
            }
            if let Err(over) = self.share.update(self.read_buf.capacity() + self.write_buf.capacity()) {
                crate::net::evict(&mut self.stream, &mut self.read_buf, &mut self.write_buf, "SERVER_ERROR out of memory", over).await;
                return Ok(());
            }
            if !self.write_buf.is_empty() {
                // A client that takes none of its replies for the idle timeout is idle too:
                // without a limit, one that never reads would hold its buffers forever.
                let send = async {
                    self.stream.write_all(&self.write_buf).await?;
                    self.stream.flush().await
                };
                match self.idle_timeout {
                    Some(limit) => tokio::time::timeout(limit, send).await.unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))?,
                    None => send.await?,
                }
                self.handler.count_written(self.write_buf.len());
                self.write_buf.clear();
            }
            if flow == Flow::Close {
                let _ = self.stream.shutdown().await;
                return Ok(());
            }
            if pass.more {
                continue;
            }
            let n = crate::net::refill(&mut self.stream, &mut self.read_buf, &mut self.write_buf, self.idle_timeout, &mut shutdown).await?;
            if n == 0 {
                return Ok(());
            }
            self.handler.count_read(n);
            if let Err(over) = self.share.update(self.read_buf.capacity() + self.write_buf.capacity()) {
                crate::net::evict(&mut self.stream, &mut self.read_buf, &mut self.write_buf, "SERVER_ERROR out of memory", over).await;
                return Ok(());
            }
        }
    }

    /// Parses and applies every complete request in the read buffer, appending the replies.
    fn process(&mut self) -> Pass {
        let input = &self.read_buf[..];
        let mut at = 0;
        let mut pass = Pass { flow: Flow::Continue, more: false };
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
            if self.write_buf.len() >= MAX_PENDING_OUTPUT {
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
                    if self.handler.apply(command, &mut self.write_buf) == Flow::Close {
                        pass.flow = Flow::Close;
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
                    self.write_buf.extend_from_slice(super::cmd::UNAUTHENTICATED);
                    at += err.consumed;
                    self.swallow = err.swallow;
                }
                Err(err) => {
                    reply::protocol_error(&mut self.write_buf, &err);
                    if err.kind == ErrorKind::TooLarge {
                        incr(&self.handler.stats.counters.store_too_large);
                    }
                    if err.closes_connection() {
                        pass.flow = Flow::Close;
                        break;
                    }
                    at += err.consumed;
                    self.swallow = err.swallow;
                }
            }
        }
        self.read_buf.advance(at);
        self.scanned = scanned;
        pass
    }
}
