//! Standard base64 (RFC 4648 alphabet, `=` padding) for the meta commands' `b` flag, which lets
//! clients send binary keys, through the `base64` crate. Encoding pads; decoding takes input
//! padded or not (padding, if any, must complete the last quantum), ignores the unused low bits of a last partial quantum (memcached does not
//! check them), and refuses what decodes to nothing, as memcached refuses an empty key.

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use bytes::BytesMut;

const CODEC: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent).with_decode_allow_trailing_bits(true),
);

/// Appends the padded base64 encoding of `input` to `out`.
pub fn encode(input: &[u8], out: &mut BytesMut) {
    let start = out.len();
    let len = input.len().div_ceil(3) * 4;
    out.resize(start + len, 0);
    let written = CODEC.encode_slice(input, &mut out[start..]).expect("the buffer holds the padded encoding");
    debug_assert_eq!(written, len);
}

/// Decodes base64, padded or not. `None` if `input` is not base64 or decodes to nothing
/// (memcached refuses an empty key the same way).
pub fn decode(input: &[u8]) -> Option<Vec<u8>> {
    // Padding, when there is any, completes the last quantum (the crate would take `Zg=`).
    if input.last() == Some(&b'=') && !input.len().is_multiple_of(4) {
        return None;
    }
    CODEC.decode(input).ok().filter(|out| !out.is_empty())
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
