//! Buffer handling shared by the memcached and Redis connections.

use std::io;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Initial and minimum free space of a read buffer.
pub(crate) const READ_CHUNK: usize = 16 * 1024;
/// Replies buffered before they are sent even if more requests are waiting, so that a
/// pipeline of large replies cannot make the write buffer grow without bound.
pub(crate) const MAX_PENDING_OUTPUT: usize = 4 << 20;
/// An idle connection keeps its buffers only if they are at most this big.
const KEEP_BUFFER: usize = 64 * 1024;

/// Once every request read so far is answered: gives back oversized buffers, then waits
/// for more bytes. Returns how many arrived; 0 means the connection should end (the
/// peer closed it, it stayed idle longer than `idle`, or the server is stopping).
pub(crate) async fn refill(
    stream: &mut TcpStream,
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
    read_buf.reserve(READ_CHUNK);
    let read = async {
        match idle {
            Some(limit) => tokio::time::timeout(limit, stream.read_buf(read_buf)).await.ok(),
            None => Some(stream.read_buf(read_buf).await),
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
