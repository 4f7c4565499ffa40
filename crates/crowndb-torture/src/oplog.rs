//! The side log of the crash torture's writer: one line per event, each line checksummed,
//! so a line torn by the kill is recognised and everything after it ignored.
//!
//! ```text
//! <crc32c of payload, 8 hex digits> <payload>\n
//! payload:  I <id> P <key> <len>            intent: put a generated value of <len> bytes
//!           I <id> D <key>                  intent: delete
//!           I <id> B <n> (P <key> <len> | D <key>)×n
//!                                           intent: one atomic batch
//!           I <id> S <key> <len>            intent: a streamed value (put_stream)
//!           I <id> C                        intent: a full compaction
//!           A <id>                          the engine acknowledged operation <id>
//! ```
//!
//! Protocol (see docs/reliability.md): the writer appends the intent line *before* calling
//! the engine and the ack line *after* the engine returned `Ok`. Both are single `write(2)`
//! calls on an `O_APPEND` file: once `write` returns, the bytes are in the kernel's page cache
//! and survive a SIGKILL of the writer (only a power failure could lose them, and this
//! harness kills processes, not machines; `--sync-log` adds an `fdatasync` after each ack for
//! anyone who wants the log to survive more). So an ack in the log implies the engine
//! acknowledged the operation; an intent without an ack is the one operation in flight.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// One item of a batch, or a single put/delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Put { key: String, len: u64 },
    Delete { key: String },
}

/// An operation the writer performs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put { key: String, len: u64 },
    Delete { key: String },
    Batch(Vec<Item>),
    Stream { key: String, len: u64 },
    Compact,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Intent { id: u64, op: Op },
    Ack { id: u64 },
}

impl Event {
    pub fn encode(&self) -> String {
        let payload = match self {
            Event::Ack { id } => format!("A {id}"),
            Event::Intent { id, op } => {
                let body = match op {
                    Op::Put { key, len } => format!("P {key} {len}"),
                    Op::Delete { key } => format!("D {key}"),
                    Op::Stream { key, len } => format!("S {key} {len}"),
                    Op::Compact => "C".to_string(),
                    Op::Batch(items) => {
                        let mut s = format!("B {}", items.len());
                        for item in items {
                            match item {
                                Item::Put { key, len } => s.push_str(&format!(" P {key} {len}")),
                                Item::Delete { key } => s.push_str(&format!(" D {key}")),
                            }
                        }
                        s
                    }
                };
                format!("I {id} {body}")
            }
        };
        format!("{:08x} {payload}\n", crc32c::crc32c(payload.as_bytes()))
    }

    /// Parses one line (without its newline); `None` if it is torn or malformed.
    pub fn decode(line: &str) -> Option<Event> {
        let (crc, payload) = line.split_once(' ')?;
        if u32::from_str_radix(crc, 16).ok()? != crc32c::crc32c(payload.as_bytes()) {
            return None;
        }
        let mut words = payload.split(' ');
        let tag = words.next()?;
        let id: u64 = words.next()?.parse().ok()?;
        let event = match tag {
            "A" => Event::Ack { id },
            "I" => {
                let op = match words.next()? {
                    "P" => Op::Put { key: words.next()?.to_string(), len: words.next()?.parse().ok()? },
                    "D" => Op::Delete { key: words.next()?.to_string() },
                    "S" => Op::Stream { key: words.next()?.to_string(), len: words.next()?.parse().ok()? },
                    "C" => Op::Compact,
                    "B" => {
                        let n: usize = words.next()?.parse().ok()?;
                        let mut items = Vec::with_capacity(n.min(1024));
                        for _ in 0..n {
                            items.push(match words.next()? {
                                "P" => Item::Put { key: words.next()?.to_string(), len: words.next()?.parse().ok()? },
                                "D" => Item::Delete { key: words.next()?.to_string() },
                                _ => return None,
                            });
                        }
                        Op::Batch(items)
                    }
                    _ => return None,
                };
                Event::Intent { id, op }
            }
            _ => return None,
        };
        words.next().is_none().then_some(event)
    }
}

/// The events of a log from byte `from` on, up to the first torn or malformed line, and the
/// byte length of the valid prefix (the whole file up to and including the last good line).
pub fn read(path: &Path, from: u64) -> io::Result<(Vec<Event>, u64)> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut events = Vec::new();
    let mut pos = from as usize;
    while pos < bytes.len() {
        let Some(nl) = bytes[pos..].iter().position(|&b| b == b'\n') else { break };
        let Some(event) = std::str::from_utf8(&bytes[pos..pos + nl]).ok().and_then(Event::decode) else { break };
        events.push(event);
        pos += nl + 1;
    }
    Ok((events, pos as u64))
}

/// The writer's end of the log.
pub struct LogWriter {
    file: File,
    sync: bool,
}

impl LogWriter {
    pub fn open(path: &Path, sync: bool) -> io::Result<LogWriter> {
        let file = OpenOptions::new().create(true).append(true).mode(0o644).open(path)?;
        Ok(LogWriter { file, sync })
    }

    /// Appends one event in one `write(2)`; after an ack, `fdatasync` if asked to.
    pub fn append(&mut self, event: &Event) -> io::Result<()> {
        let line = event.encode();
        let n = self.file.write(line.as_bytes())?;
        if n != line.len() {
            return Err(io::Error::other(format!("short write to the side log: {n} of {} bytes", line.len())));
        }
        if self.sync && matches!(event, Event::Ack { .. }) {
            self.file.sync_data()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_and_torn_lines_are_refused() {
        let events = [
            Event::Intent { id: 1, op: Op::Put { key: "k1".into(), len: 5 } },
            Event::Ack { id: 1 },
            Event::Intent { id: 2, op: Op::Batch(vec![Item::Put { key: "a".into(), len: 0 }, Item::Delete { key: "b".into() }]) },
            Event::Intent { id: 3, op: Op::Stream { key: "s".into(), len: 3 << 20 } },
            Event::Intent { id: 4, op: Op::Compact },
            Event::Intent { id: 5, op: Op::Delete { key: "x".into() } },
        ];
        for e in &events {
            let line = e.encode();
            assert_eq!(Event::decode(line.trim_end()).as_ref(), Some(e));
            assert_eq!(Event::decode(&line[..line.len() - 3]), None);
        }
    }
}
