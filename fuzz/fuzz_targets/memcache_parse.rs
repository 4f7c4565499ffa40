//! The memcached text + meta request parser (`crowndb_server::memcache::parse`), driven the
//! way a connection drives it: requests are taken off the front of the buffer until it is
//! incomplete or bad. Never a panic; a request never claims more bytes than the buffer has.
//! The first byte picks small or default limits, so the limit checks are reached too.
#![no_main]

use crowndb_server::memcache::{parse, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut buf)) = data.split_first() else { return };
    let limits = if mode & 1 == 0 {
        Limits::default()
    } else {
        Limits { max_key_len: 8, max_item_size: 64, max_line_len: 48, max_get_line_len: 96 }
    };
    for _ in 0..1000 {
        match parse(buf, &limits) {
            Ok(Some((command, used))) => {
                assert!(used > 0 && used <= buf.len(), "parse used {used} of {} bytes", buf.len());
                let _ = format!("{command:?}");
                buf = &buf[used..];
            }
            Ok(None) | Err(_) => break,
        }
    }
});
