//! Tests of the command model: expiration-time rules, token splitting, the meta flags' bound,
//! and `Command::encode`.

use super::*;

const NOW: u64 = 1_700_000_000;

#[test]
fn exptime_zero_never_expires() {
    assert_eq!(expiry(0, NOW), Expiry::Never);
}

#[test]
fn negative_exptime_is_expired() {
    assert_eq!(expiry(-1, NOW), Expiry::Expired);
    assert_eq!(expiry(i64::MIN, NOW), Expiry::Expired);
}

#[test]
fn up_to_thirty_days_is_relative() {
    assert_eq!(expiry(1, NOW), Expiry::At(NOW + 1));
    assert_eq!(expiry(100, NOW), Expiry::At(NOW + 100));
    assert_eq!(expiry(RELATIVE_EXPTIME_MAX, NOW), Expiry::At(NOW + 2_592_000));
}

#[test]
fn beyond_thirty_days_is_unix_time() {
    assert_eq!(expiry(NOW as i64 + 60, NOW), Expiry::At(NOW + 60));
    // Just past 30 days is a Unix time in 1970: long expired.
    assert_eq!(expiry(RELATIVE_EXPTIME_MAX + 1, NOW), Expiry::Expired);
    assert_eq!(expiry(NOW as i64, NOW), Expiry::Expired);
    assert_eq!(expiry(NOW as i64 - 1, NOW), Expiry::Expired);
    // After 2038 (beyond 32 bits) still works.
    assert_eq!(expiry(1 << 33, NOW), Expiry::At(1 << 33));
    assert_eq!(expiry(i64::MAX, NOW), Expiry::At(i64::MAX as u64));
}

#[test]
fn relative_exptime_saturates() {
    assert_eq!(expiry(10, u64::MAX), Expiry::At(u64::MAX));
}

#[test]
fn tokens_split_on_runs_of_spaces() {
    let t = Tokens::new(b"  a bb   ccc ");
    assert_eq!(t.iter().collect::<Vec<_>>(), [&b"a"[..], b"bb", b"ccc"]);
    assert_eq!(t.len(), 3);
    assert!(!t.is_empty());
    assert!(Tokens::new(b"   ").is_empty());
    assert_eq!(Tokens::new(b"a b"), Tokens::new(b" a  b "));
    assert_ne!(Tokens::new(b"a b"), Tokens::new(b"a"));
}

#[test]
fn numbers_encode_in_decimal() {
    let mut out = BytesMut::new();
    put_u64(&mut out, 0);
    out.put_u8(b' ');
    put_u64(&mut out, u64::MAX);
    out.put_u8(b' ');
    put_i64(&mut out, i64::MIN);
    out.put_u8(b' ');
    put_i64(&mut out, -5);
    assert_eq!(&out[..], b"0 18446744073709551615 -9223372036854775808 -5");
}

#[test]
fn flag_order_is_bounded() {
    let mut flags = MetaFlags::default();
    for _ in 0..MAX_META_FLAGS {
        assert!(flags.push_order(b'v'));
    }
    assert!(!flags.push_order(b'k'));
    assert_eq!(flags.order().len(), MAX_META_FLAGS);
}

#[test]
fn encodes_classic_commands() {
    let cases: Vec<(Command<'_>, &[u8])> = vec![
        (
            Command::Store(Store { verb: StoreVerb::Cas(7), key: b"k", flags: 3, exptime: -1, value: b"v\r\n", noreply: true }),
            b"cas k 3 -1 3 7 noreply\r\nv\r\n\r\n",
        ),
        (Command::Get(Get { with_cas: true, touch: Some(10), keys: Tokens::new(b"a b") }), b"gats 10 a b\r\n"),
        (Command::FlushAll { delay: None, noreply: false }, b"flush_all\r\n"),
        (Command::MetaNoop, b"mn\r\n"),
    ];
    for (cmd, wire) in cases {
        let mut out = BytesMut::new();
        cmd.encode(&mut out);
        assert_eq!(&out[..], wire, "{cmd:?}");
    }
}

#[test]
fn encodes_meta_flags_in_order() {
    let mut flags = MetaFlags { opaque: Some(b"xy"), ttl: Some(30), return_value: true, base64_key: true, ..MetaFlags::default() };
    for letter in *b"vTOMb" {
        flags.push_order(letter);
    }
    let cmd = Command::MetaSet { key: Cow::Borrowed(b"\x00\xff"), mode: MetaSetMode::Append, value: b"hi", flags };
    let mut out = BytesMut::new();
    cmd.encode(&mut out);
    assert_eq!(&out[..], b"ms AP8= 2 v T30 Oxy MA b\r\nhi\r\n");
}
