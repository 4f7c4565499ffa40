//! Standard base64 (RFC 4648 alphabet, `=` padding) for the meta commands' `b` flag, which lets
//! clients send binary keys. Small enough not to be worth a dependency.

use bytes::{BufMut, BytesMut};

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends the padded base64 encoding of `input` to `out`.
pub fn encode(input: &[u8], out: &mut BytesMut) {
    out.reserve(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b0 = chunk[0];
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        out.put_u8(ALPHABET[(n >> 18) as usize & 63]);
        out.put_u8(ALPHABET[(n >> 12) as usize & 63]);
        if chunk.len() > 1 {
            out.put_u8(ALPHABET[(n >> 6) as usize & 63]);
        } else {
            out.put_u8(b'=');
        }
        if chunk.len() > 2 {
            out.put_u8(ALPHABET[n as usize & 63]);
        } else {
            out.put_u8(b'=');
        }
    }
}

fn value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes base64, padded or not. `None` if `input` is not base64 or decodes to nothing
/// (memcached refuses an empty key the same way).
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    let data = match input {
        [rest @ .., b'=', b'='] => rest,
        [rest @ .., b'='] => rest,
        _ => input,
    };
    let padded_len = input.len() % 4;
    if data.len() != input.len() && padded_len != 0 {
        return None; // padding only ends a complete quantum
    }
    if data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for chunk in data.chunks(4) {
        let mut n = 0u32;
        for &c in chunk {
            n = (n << 6) | value(c)?;
        }
        match chunk.len() {
            4 => out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]),
            3 => out.extend_from_slice(&[(n >> 10) as u8, (n >> 2) as u8]),
            2 => out.push((n >> 4) as u8),
            _ => return None,
        }
    }
    if out.is_empty() {
        None
    } else {
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(input: &[u8]) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(input, &mut out);
        out.to_vec()
    }

    #[test]
    fn rfc4648_vectors() {
        let vectors: [(&[u8], &[u8]); 7] = [
            (b"", b""),
            (b"f", b"Zg=="),
            (b"fo", b"Zm8="),
            (b"foo", b"Zm9v"),
            (b"foob", b"Zm9vYg=="),
            (b"fooba", b"Zm9vYmE="),
            (b"foobar", b"Zm9vYmFy"),
        ];
        for (plain, coded) in vectors {
            assert_eq!(enc(plain), coded);
            if !plain.is_empty() {
                assert_eq!(decode(coded).as_deref(), Some(plain));
            }
        }
    }

    #[test]
    fn decodes_without_padding() {
        assert_eq!(decode(b"Zg").as_deref(), Some(&b"f"[..]));
        assert_eq!(decode(b"Zm8").as_deref(), Some(&b"fo"[..]));
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [&b""[..], b"=", b"==", b"Z", b"Zg=", b"Zm9vY", b"Zm9v!A==", b"Zg==Zg==", b"Zm 9v"] {
            assert_eq!(decode(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn round_trips_all_bytes() {
        let all: Vec<u8> = (0..=255).collect();
        for len in 1..all.len() {
            assert_eq!(decode(&enc(&all[..len])).as_deref(), Some(&all[..len]));
        }
    }
}
