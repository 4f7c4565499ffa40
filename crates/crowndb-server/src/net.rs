//! What the memcached and Redis connections share: the [`Stream`] they talk over (plain TCP or
//! TLS), the connection loop [`serve`] with the protocol as a parameter ([`Protocol`]), and its
//! buffer handling ([`refill`], [`evict`]).
//!
//! Each turn of [`serve`] hands what the socket has to the protocol, which parses and runs
//! every complete request in it and appends the replies; all of them go out with one write
//! (pipelining: 100 requests in one packet get 100 replies in one packet). A request split
//! across packets waits in the buffer for the rest. A connection ends when the protocol says
//! so, when the client closes or stays idle past the idle timeout (sending nothing, or taking
//! none of its replies), when its buffers are evicted for the server's client memory, or when
//! the server shuts down (requests already read are answered first).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::stats::BufferShare;

/// Initial and minimum free space of a read buffer.
pub(crate) const READ_CHUNK: usize = 16 * 1024;
/// Replies buffered before they are sent even if more requests are waiting, so that a
/// pipeline of large replies cannot make the write buffer grow without bound.
pub(crate) const MAX_PENDING_OUTPUT: usize = 1 << 20;
/// An idle connection keeps its buffers only if they are at most this big.
const KEEP_BUFFER: usize = 64 * 1024;
/// A connection that has sent nothing for this long gives its buffers back while it waits.
const RELEASE_BUFFERS_AFTER: Duration = Duration::from_secs(1);

/// What one pass of a [`Protocol`] over the read buffer ended with.
#[derive(Default)]
pub(crate) struct Pass {
    /// Send the replies, then close the connection.
    pub close: bool,
    /// Complete requests may remain in the buffer (the output limit stopped the pass).
    pub more: bool,
    /// The replies acknowledge writes that must be on disk first (durability `always`).
    pub durable: Option<crowndb::Durable>,
}

/// What a protocol adds to the connection loop: how requests become replies.
pub(crate) trait Protocol {
    /// The start of the message a connection evicted for client memory gets (see [`evict`]).
    const EVICTED: &'static str;

    /// Parses and runs every complete request at the front of `input`, consuming them, and
    /// appends the replies to `output`; stops once `output` holds [`MAX_PENDING_OUTPUT`].
    /// If the replies acknowledge writes the store's durability wants on disk first, the
    /// pass says so ([`Pass::durable`]) and the loop sends nothing before it completes.
    fn process(&mut self, input: &mut BytesMut, output: &mut BytesMut) -> Pass;

    /// The sync the replies waited for failed: nothing of the pass may be acknowledged.
    /// Replaces `output` with the protocol's error; the connection is closed after it.
    fn durability_failed(&mut self, err: crowndb::Error, output: &mut BytesMut);

    /// How long the client may stay silent, or take none of its replies (`None`: forever).
    fn idle_timeout(&self) -> Option<Duration>;

    /// Counts bytes received, for the protocol's statistics.
    fn count_read(&self, n: usize);

    /// Counts bytes sent, for the protocol's statistics.
    fn count_written(&self, n: usize);
}

/// Serves one connection with `protocol` until it ends. `shutdown` turns true when the server
/// stops; `share` is the connection's part of the server's client memory.
pub(crate) async fn serve<P: Protocol>(
    stream: &mut Stream,
    protocol: &mut P,
    share: &mut BufferShare,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    // Allocated when the first bytes arrive (refill): a connection that never sends anything
    // costs no buffer.
    let mut read_buf = BytesMut::new();
    let mut write_buf = BytesMut::new();
    loop {
        let mut pass = protocol.process(&mut read_buf, &mut write_buf);
        if let Some(durable) = pass.durable.take() {
            if let Err(e) = durable.await {
                protocol.durability_failed(e, &mut write_buf);
                pass.close = true;
            }
        }
        if let Err(over) = share.update(read_buf.capacity() + write_buf.capacity()) {
            evict(stream, &mut read_buf, &mut write_buf, P::EVICTED, over).await;
            return Ok(());
        }
        let idle = protocol.idle_timeout();
        if !write_buf.is_empty() {
            // A client that takes none of its replies for the idle timeout is idle too:
            // without a limit, one that never reads would hold its buffers forever.
            let send = async {
                stream.write_all(&write_buf).await?;
                stream.flush().await
            };
            match idle {
                Some(limit) => tokio::time::timeout(limit, send).await.unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))?,
                None => send.await?,
            }
            protocol.count_written(write_buf.len());
            write_buf.clear();
        }
        if pass.close {
            let _ = stream.shutdown().await;
            return Ok(());
        }
        if pass.more {
            continue;
        }
        let n = refill(stream, &mut read_buf, &mut write_buf, idle, &mut shutdown).await?;
        if n == 0 {
            return Ok(());
        }
        protocol.count_read(n);
        if let Err(over) = share.update(read_buf.capacity() + write_buf.capacity()) {
            evict(stream, &mut read_buf, &mut write_buf, P::EVICTED, over).await;
            return Ok(());
        }
    }
}

/// Once every request read so far is answered: gives back oversized buffers, then waits
/// for more bytes. Returns how many arrived; 0 means the connection should end (the
/// peer closed it, it stayed idle longer than `idle`, or the server is stopping).
async fn refill(
    stream: &mut Stream,
    read_buf: &mut BytesMut,
    write_buf: &mut BytesMut,
    idle: Option<Duration>,
    shutdown: &mut watch::Receiver<bool>,
) -> io::Result<usize> {
    if *shutdown.borrow() {
        return Ok(0);
    }
    if read_buf.is_empty() && read_buf.capacity() > KEEP_BUFFER {
        *read_buf = BytesMut::with_capacity(READ_CHUNK);
    }
    if write_buf.capacity() > KEEP_BUFFER {
        *write_buf = BytesMut::with_capacity(READ_CHUNK);
    }
    let read = async {
        if matches!(stream, Stream::Plain(_)) && read_buf.is_empty() && read_buf.capacity() > 0 {
            // A busy connection reads straight into its buffer; one quiet for a while gives
            // its buffers back and waits without them, so that thousands of idle connections
            // cost little more than their sockets. (A TLS stream keeps buffers of its own, and
            // may hold decrypted bytes the socket does not show.)
            read_buf.reserve(READ_CHUNK);
            match tokio::time::timeout(RELEASE_BUFFERS_AFTER, stream.read_buf(read_buf)).await {
                Ok(result) => return result,
                Err(_) => {
                    *read_buf = BytesMut::new();
                    if write_buf.is_empty() {
                        *write_buf = BytesMut::new();
                    }
                }
            }
        }
        if let Stream::Plain(tcp) = &*stream {
            if read_buf.capacity() == 0 {
                wait_for_bytes(tcp).await?;
            }
        }
        read_buf.reserve(READ_CHUNK);
        stream.read_buf(read_buf).await
    };
    let read = async {
        match idle {
            Some(limit) => tokio::time::timeout(limit, read).await.ok(),
            None => Some(read.await),
        }
    };
    tokio::select! {
        read = read => match read {
            None => {
                tracing::debug!("closing an idle connection");
                Ok(0)
            }
            Some(result) => result,
        },
        _ = shutdown.changed() => Ok(0),
    }
}

/// Closes a connection evicted for the server's client memory (`max_client_memory`): frees
/// its buffers, then sends `reason` (the protocol's error prefix, e.g. `SERVER_ERROR out of
/// memory`) with the figures if the client takes it within a second.
async fn evict(stream: &mut Stream, read_buf: &mut BytesMut, write_buf: &mut BytesMut, reason: &str, (used, limit): (usize, usize)) {
    let held = read_buf.capacity() + write_buf.capacity();
    tracing::warn!("closing a connection holding {held} bytes of buffers: client buffers total {used}, over max_client_memory {limit}");
    *read_buf = BytesMut::new();
    *write_buf = BytesMut::new();
    let message = format!(
        "{reason}: this connection holds {held} bytes of buffers and all clients' together exceed max_client_memory ({limit}); read replies as they come and send smaller requests\r\n"
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(message.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Waits, holding no buffer, until the socket has bytes to read or its peer closed it.
/// Readiness alone can be reported for a socket with nothing to read (a freshly accepted one
/// often is), so it is confirmed with a one-byte peek; a peek that would block clears it.
async fn wait_for_bytes(tcp: &TcpStream) -> io::Result<()> {
    loop {
        tcp.readable().await?;
        let peeked = tcp.try_io(Interest::READABLE, || {
            let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
            socket2::SockRef::from(tcp).peek(&mut byte)
        });
        match peeked {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
            Ok(_) => return Ok(()),
        }
    }
}

/// A client connection: plain TCP, or TLS over TCP once the handshake is done. The connections
/// read and write through it without knowing which; after a `write_all` they `flush`, because
/// TLS may keep encrypted bytes buffered that a plain socket would have sent.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Stream {
    /// The local address of the underlying socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        match self {
            Stream::Plain(tcp) => tcp.local_addr(),
            Stream::Tls(tls) => tls.get_ref().0.local_addr(),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(tcp) => tcp.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
