//! One Redis client connection: buffered reading, pipelining, protocol errors.
//!
//! Each turn reads what the socket has, decodes and runs every complete request in the buffer
//! (`resp::RequestParser`), and sends all the replies with one write, so a pipeline of 10,000
//! commands in a few packets gets its replies in a few packets. A request still arriving waits
//! in the buffer; the parser refuses a declared bulk or argument count above the limits before
//! anything is allocated for it, and a query buffer above `client-query-buffer-limit` closes the
//! connection.
//!
//! A protocol error gets Redis's `-ERR Protocol error: ...` and the connection is closed after
//! the replies to the requests before it, as Redis does. Command errors (arity, syntax, type)
//! are replies; the connection stays.
//!
//! Durability `always`: the writes of one batch are appended without waiting and synced once
//! before their replies go out.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;

use super::client::{Client, ClientInfo};
use super::dispatch::{dispatch, Ctx};
use super::shared::Shared;
use crate::resp::{encode, RequestParser};
use crate::stats::{add, BufferShare};

use crate::net::{Stream, MAX_PENDING_OUTPUT};

/// A Redis connection and its buffers.
pub struct Connection {
    stream: Stream,
    shared: Arc<Shared>,
    client: Client,
    parser: RequestParser,
    /// The settings generation `parser` and `timeout` were taken from.
    generation: u64,
    timeout: Option<Duration>,
    read_buf: BytesMut,
    write_buf: BytesMut,
    /// This connection's part of the server's client memory (`max_client_memory`).
    share: BufferShare,
}

impl Connection {
    pub fn new(stream: Stream, peer: SocketAddr, shared: Arc<Shared>) -> Connection {
        let laddr = stream.local_addr().unwrap_or(peer);
        let id = shared.next_client_id();
        let now = Instant::now();
        let info = Arc::new(Mutex::new(ClientInfo {
            id,
            addr: peer,
            laddr,
            name: Vec::new(),
            lib_name: Vec::new(),
            lib_ver: Vec::new(),
            created: now,
            last_active: now,
            last_command: "NULL".to_string(),
            resp: 2,
        }));
        shared.register(info.clone());
        let client = Client::new(id, true, info);
        let mut connection = Connection {
            share: BufferShare::new(shared.stats.clone()),
            stream,
            shared,
            client,
            parser: RequestParser::default(),
            generation: u64::MAX,
            timeout: None,
            // Allocated when the first bytes arrive (net::refill): a connection that never
            // sends anything costs no buffer.
            read_buf: BytesMut::new(),
            write_buf: BytesMut::new(),
        };
        connection.refresh_settings();
        connection.client.authenticated = connection.shared.settings().requirepass.is_none();
        connection.parser.set_auth_required(!connection.client.authenticated);
        connection
    }

    /// Takes the live settings (CONFIG SET) if they changed.
    fn refresh_settings(&mut self) {
        let generation = self.shared.settings_generation();
        if generation == self.generation {
            return;
        }
        let settings = self.shared.settings();
        self.parser.set_limits(settings.limits);
        self.timeout = settings.timeout;
        self.generation = generation;
    }

    /// Serves the connection until it ends. `shutdown` turns true when the server stops.
    pub async fn run(mut self, shutdown: watch::Receiver<bool>) -> io::Result<()> {
        let result = self.serve(shutdown).await;
        self.shared.unregister(self.client.id);
        result
    }

    async fn serve(&mut self, mut shutdown: watch::Receiver<bool>) -> io::Result<()> {
        loop {
            self.refresh_settings();
            let (mut close, more) = self.process();
            if let Err(over) = self.share.update(self.read_buf.capacity() + self.write_buf.capacity()) {
                crate::net::evict(&mut self.stream, &mut self.read_buf, &mut self.write_buf, "-ERR client evicted", over).await;
                return Ok(());
            }
            if !self.write_buf.is_empty() {
                // A client that takes none of its replies for the idle timeout is idle too:
                // without a limit, one that never reads would hold its buffers forever.
                let send = async {
                    self.stream.write_all(&self.write_buf).await?;
                    self.stream.flush().await
                };
                match self.timeout {
                    Some(limit) => tokio::time::timeout(limit, send).await.unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))?,
                    None => send.await?,
                }
                add(&self.shared.counters.total_net_output_bytes, self.write_buf.len() as u64);
                self.write_buf.clear();
            }
            if self.client.close_now {
                close = true;
            }
            if close {
                let _ = self.stream.shutdown().await;
                return Ok(());
            }
            if more {
                continue;
            }
            let n = crate::net::refill(&mut self.stream, &mut self.read_buf, &mut self.write_buf, self.timeout, &mut shutdown).await?;
            if n == 0 {
                return Ok(());
            }
            add(&self.shared.counters.total_net_input_bytes, n as u64);
            if let Err(over) = self.share.update(self.read_buf.capacity() + self.write_buf.capacity()) {
                crate::net::evict(&mut self.stream, &mut self.read_buf, &mut self.write_buf, "-ERR client evicted", over).await;
                return Ok(());
            }
        }
    }

    /// Runs every complete request in the read buffer, appending the replies. Returns whether
    /// to close after sending them, and whether requests remain (the output limit stopped it).
    fn process(&mut self) -> (bool, bool) {
        let mut ctx = Ctx::new(&self.shared, &mut self.client);
        let mut close = false;
        let mut more = false;
        loop {
            if self.write_buf.len() >= MAX_PENDING_OUTPUT {
                more = !self.read_buf.is_empty();
                break;
            }
            match self.parser.decode(&mut self.read_buf) {
                Ok(Some(request)) => {
                    let reply = dispatch(&mut ctx, &request.args);
                    if ctx.client.close_now {
                        break;
                    }
                    encode(&reply, ctx.client.protocol, &mut self.write_buf);
                    // AUTH, HELLO and RESET change what the parser allows.
                    self.parser.set_auth_required(!ctx.client.authenticated);
                    if ctx.client.close_after_reply {
                        close = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(err) => {
                    tracing::debug!("Redis client {}: {err}", ctx.client.id);
                    if let Some(reply) = err.reply() {
                        encode(&reply, ctx.client.protocol, &mut self.write_buf);
                    }
                    close = true;
                    break;
                }
            }
        }
        if let Err(e) = ctx.writes.finish(&self.shared.db) {
            // Nothing of this batch may be acknowledged: its writes are not known to be on disk.
            self.write_buf.clear();
            encode(&super::reply::engine(e), self.client.protocol, &mut self.write_buf);
            close = true;
        }
        (close, more)
    }
}

/// The reply to a connection beyond `max_connections`, as Redis words it.
pub const TOO_MANY_CLIENTS: &[u8] = b"-ERR max number of clients reached\r\n";
