//! The RESP request parser (`RequestParser::decode`), fed the input in pieces (the first
//! byte picks the piece size, as socket reads would split it) with small or default limits.
//! Never a panic, never an unbounded allocation (libFuzzer's RSS limit catches those).
#![no_main]

use bytes::BytesMut;
use crowndb_server::resp::{Limits, RequestParser};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else { return };
    let mut parser = if mode & 0x80 == 0 {
        RequestParser::default()
    } else {
        RequestParser::new(Limits { max_bulk_len: 64, max_inline_len: 64, max_multibulk_len: 16, max_query_buffer: 256 })
    };
    let piece = (mode & 0x7f) as usize + 1;
    let mut buf = BytesMut::new();
    'feed: for chunk in input.chunks(piece) {
        buf.extend_from_slice(chunk);
        loop {
            match parser.decode(&mut buf) {
                Ok(Some(request)) => {
                    let _ = request.args.len();
                }
                Ok(None) => break,
                Err(_) => break 'feed,
            }
        }
    }
});
