//! One Redis client's state: what HELLO, AUTH, CLIENT SETNAME and SETINFO change, and what
//! CLIENT LIST shows.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;

use crate::resp::Protocol;

/// What CLIENT LIST and CLIENT INFO show of a client; shared between its connection and the
/// server's client list (behind a mutex only they take, briefly).
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub name: Vec<u8>,
    pub lib_name: Vec<u8>,
    pub lib_ver: Vec<u8>,
    pub created: Instant,
    pub last_active: Instant,
    /// The last command, lower case (`client|list` for a subcommand).
    pub last_command: String,
    pub resp: u8,
}

impl ClientInfo {
    /// The line CLIENT LIST and CLIENT INFO give for this client, in Redis 7's field order
    /// (fields about features CrownDB lacks have their idle values).
    pub fn line(&self, now: Instant) -> Vec<u8> {
        let mut out = format!("id={} addr={} laddr={} fd=8 name=", self.id, self.addr, self.laddr).into_bytes();
        out.extend_from_slice(&self.name);
        out.extend_from_slice(
            format!(
                " age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name=",
                now.duration_since(self.created).as_secs(),
                now.duration_since(self.last_active).as_secs(),
                self.last_command,
                self.resp
            )
            .as_bytes(),
        );
        out.extend_from_slice(&self.lib_name);
        out.extend_from_slice(b" lib-ver=");
        out.extend_from_slice(&self.lib_ver);
        out
    }
}

/// The state of one connection's client.
pub struct Client {
    pub id: u64,
    pub protocol: Protocol,
    /// AUTH (or HELLO ... AUTH) succeeded, or no password is configured.
    pub authenticated: bool,
    /// Close the connection once the current reply is sent (QUIT).
    pub close_after_reply: bool,
    /// Close the connection without sending anything more (SHUTDOWN).
    pub close_now: bool,
    pub info: Arc<Mutex<ClientInfo>>,
    /// Inside MULTI: the commands queued for EXEC.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command was refused while queuing: EXEC must abort.
    pub multi_failed: bool,
    /// WATCHed keys and the version each had (None: absent) when watched.
    pub watched: Vec<(Bytes, Option<u64>)>,
}

impl Client {
    /// A new, authenticated or not, RESP2 client.
    pub fn new(id: u64, authenticated: bool, info: Arc<Mutex<ClientInfo>>) -> Client {
        Client {
            id,
            protocol: Protocol::Resp2,
            authenticated,
            close_after_reply: false,
            close_now: false,
            info,
            multi: None,
            multi_failed: false,
            watched: Vec::new(),
        }
    }
}

impl Client {
    /// Runs `f` on the shared info (a poisoned lock is still usable: it only holds text).
    pub fn with_info<T>(&self, f: impl FnOnce(&mut ClientInfo) -> T) -> T {
        let mut info = self.info.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut info)
    }
}

/// Whether a client name (or lib-name, lib-ver) is acceptable: printable ASCII without spaces,
/// as Redis's `validateClientAttr` checks.
pub fn valid_attr(value: &[u8]) -> bool {
    value.iter().all(|&b| (b'!'..=b'~').contains(&b))
}
