//! What a Redis connection adds to the shared connection loop (`net::serve`): its client's
//! registration, the live settings (CONFIG SET), and protocol errors.
//!
//! Each turn decodes and runs every complete request in the buffer (`resp::RequestParser`);
//! the loop sends all the replies with one write, so a pipeline of 10,000 commands in a few
//! packets gets its replies in a few packets. A request still arriving waits in the buffer;
//! the parser refuses a declared bulk or argument count above the limits before
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
use tokio::sync::watch;

use super::client::{Client, ClientInfo};
use super::dispatch::{dispatch, Ctx};
use super::shared::Shared;
use crate::resp::{encode, RequestParser};
use crate::stats::{add, BufferShare};

use crate::net::{serve, Pass, Protocol, Stream, MAX_PENDING_OUTPUT};

/// A Redis connection and its buffers.
pub struct Connection {
    /// Taken by `run` for the loop, which borrows the rest as the protocol.
    stream: Option<Stream>,
    shared: Arc<Shared>,
    client: Client,
    parser: RequestParser,
    /// The settings generation `parser` and `timeout` were taken from.
    generation: u64,
    timeout: Option<Duration>,
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
        let mut connection =
            Connection { stream: Some(stream), shared, client, parser: RequestParser::default(), generation: u64::MAX, timeout: None };
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
        let mut share = BufferShare::new(self.shared.stats.clone());
        let mut stream = self.stream.take().expect("a connection runs once");
        let result = serve(&mut stream, &mut self, &mut share, shutdown).await;
        self.shared.unregister(self.client.id);
        result
    }

    /// Runs every complete request in `input`, appending the replies. Returns whether to close
    /// after sending them, and whether requests remain (the output limit stopped it).
    fn run_requests(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> (bool, bool, Option<crowndb::Durable>) {
        let mut ctx = Ctx::new(&self.shared, &mut self.client);
        let mut close = false;
        let mut more = false;
        loop {
            if output.len() >= MAX_PENDING_OUTPUT {
                more = !input.is_empty();
                break;
            }
            match self.parser.decode(input) {
                Ok(Some(request)) => {
                    let reply = dispatch(&mut ctx, &request.args);
                    if ctx.client.close_now {
                        break;
                    }
                    encode(&reply, ctx.client.protocol, output);
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
                        encode(&reply, ctx.client.protocol, output);
                    }
                    close = true;
                    break;
                }
            }
        }
        let durable = ctx.writes.finish(&self.shared.db);
        (close, more, durable)
    }
}

impl Protocol for Connection {
    const EVICTED: &'static str = "-ERR client evicted";

    fn process(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> Pass {
        self.refresh_settings();
        let (close, more, durable) = self.run_requests(input, output);
        Pass { close: close || self.client.close_now, more, durable }
    }

    fn durability_failed(&mut self, err: crowndb::Error, output: &mut BytesMut) {
        // Nothing of this batch may be acknowledged: its writes are not known to be on disk.
        output.clear();
        encode(&super::reply::engine(err), self.client.protocol, output);
    }

    fn idle_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    fn count_read(&self, n: usize) {
        add(&self.shared.counters.total_net_input_bytes, n as u64);
    }

    fn count_written(&self, n: usize) {
        add(&self.shared.counters.total_net_output_bytes, n as u64);
    }
}

/// The reply to a connection beyond `max_connections`, as Redis words it.
pub const TOO_MANY_CLIENTS: &[u8] = b"-ERR max number of clients reached\r\n";
