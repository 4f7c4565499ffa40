//! How two replies are compared. By default byte for byte (errors included); a few commands
//! whose replies depend on time or on server identity get a normalised comparison instead,
//! chosen from the command alone, so generated and hand-written cases are treated alike.

use super::resp::{Kind, Reply};

#[derive(Debug, Clone, PartialEq)]
pub enum Norm {
    /// The same bytes.
    Exact,
    /// An integer that is a remaining time or a deadline: negative values (-1 no TTL, -2 no
    /// key) must be equal; non-negative ones may differ by `tolerance` (the two servers run
    /// the command a few milliseconds apart, and round differently).
    Time { tolerance: i64 },
    /// An array or set whose order means nothing (KEYS, HKEYS, HVALS, SMEMBERS, SINTER,
    /// SUNION, SDIFF): the same type (`*` or `~`) and the same elements, compared sorted (a
    /// multiset: HVALS repeats values).
    Unordered,
    /// Field / value pairs in no order (HGETALL): a RESP2 flat array or a RESP3 map, compared
    /// as sorted pairs.
    Pairs,
    /// A whole SCAN / HSCAN / SSCAN walk from cursor 0: the driver follows the cursors to the
    /// end on each server and compares the sorted, deduplicated keys, members or field / value
    /// pairs (cursors are each server's own).
    Scan,
    /// A random pick (SRANDMEMBER, HRANDFIELD, SPOP): the same type and number of elements;
    /// outside a transaction the driver checks that each server's picks are in its collection
    /// (and, after SPOP, puts both collections in the same state again: `Pair::random_check`).
    Random,
    /// HELLO: the same fields, with the same values except `version` and `id` (server identity).
    Hello,
    /// EXEC: element by element, each with its queued command's comparison.
    Exec(Vec<Norm>),
    /// A count CrownDB may give higher, never lower (DBSIZE: expired keys stay counted until
    /// compaction reclaims them, as Redis counts them until its active expiry has run, within
    /// ~100 ms: docs/protocols.md).
    NotBelow,
    /// Not compared beyond "both errors or both not" (SCAN's single pages inside a transaction).
    Shape,
}

fn upper(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).to_ascii_uppercase()
}

/// Whether Redis reads `cursor` as 0 (`strtoul`, up to a NUL: `0`, `00`, `+0`, `-0`, empty).
fn is_cursor_zero(cursor: &[u8]) -> bool {
    let text = cursor.split(|&b| b == 0).next().unwrap_or_default();
    let digits = text.strip_prefix(b"-").or_else(|| text.strip_prefix(b"+")).unwrap_or(text);
    text.is_empty() || (!digits.is_empty() && digits.iter().all(|&d| d == b'0'))
}

/// The comparison for the reply to `args` (EXEC's is built by the driver from its queue).
pub fn norm_for(args: &[Vec<u8>]) -> Norm {
    let Some(name) = args.first() else { return Norm::Exact };
    match upper(name).as_str() {
        "TTL" | "EXPIRETIME" => Norm::Time { tolerance: 2 },
        "PTTL" | "PEXPIRETIME" => Norm::Time { tolerance: 2_000 },
        "KEYS" | "HKEYS" | "HVALS" | "SMEMBERS" | "SINTER" | "SUNION" | "SDIFF" => Norm::Unordered,
        "HGETALL" => Norm::Pairs,
        // A walk from cursor 0 covers the keyspace (the collection); from any other cursor it
        // depends on each server's own table order: then only "both errors or both not".
        "SCAN" if args.get(1).is_some_and(|c| is_cursor_zero(c)) => Norm::Scan,
        "HSCAN" | "SSCAN" if args.get(2).is_some_and(|c| is_cursor_zero(c)) => Norm::Scan,
        "SCAN" | "HSCAN" | "SSCAN" => Norm::Shape,
        "SRANDMEMBER" | "HRANDFIELD" | "SPOP" => Norm::Random,
        "HELLO" => Norm::Hello,
        "DBSIZE" => Norm::NotBelow,
        _ => Norm::Exact,
    }
}

/// Whether `redis` and `crowndb` say the same under `norm`.
pub fn same(norm: &Norm, redis: &Reply, crowndb: &Reply) -> bool {
    if redis.raw == crowndb.raw {
        return true;
    }
    if redis.is_error() || crowndb.is_error() {
        return *norm == Norm::Shape && redis.is_error() && crowndb.is_error();
    }
    match norm {
        Norm::Exact => false,
        Norm::Time { tolerance } => match (&redis.kind, &crowndb.kind) {
            (Kind::Int(a), Kind::Int(b)) if *a >= 0 && *b >= 0 => (a - b).abs() <= *tolerance,
            _ => false,
        },
        Norm::NotBelow => matches!((&redis.kind, &crowndb.kind), (Kind::Int(a), Kind::Int(b)) if b >= a),
        Norm::Unordered | Norm::Scan => match (&redis.kind, &crowndb.kind) {
            (Kind::Array(Some(a)), Kind::Array(Some(b))) => redis.raw[0] == crowndb.raw[0] && sorted_raw(a) == sorted_raw(b),
            _ => false,
        },
        Norm::Pairs => redis.raw[0] == crowndb.raw[0] && pairs(redis).is_some_and(|p| Some(p) == pairs(crowndb)),
        Norm::Random => match (&redis.kind, &crowndb.kind) {
            (Kind::Bulk(Some(_)), Kind::Bulk(Some(_))) => true,
            (Kind::Array(Some(a)), Kind::Array(Some(b))) => {
                redis.raw[0] == crowndb.raw[0]
                    && a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(x, y)| x.raw[0] == y.raw[0] && std::mem::discriminant(&x.kind) == std::mem::discriminant(&y.kind))
            }
            _ => false,
        },
        Norm::Hello => hello_fields(redis).is_some() && hello_fields(redis) == hello_fields(crowndb),
        Norm::Exec(norms) => match (&redis.kind, &crowndb.kind) {
            (Kind::Array(Some(a)), Kind::Array(Some(b))) => {
                a.len() == b.len() && a.iter().zip(b).enumerate().all(|(i, (x, y))| same(norms.get(i).unwrap_or(&Norm::Exact), x, y))
            }
            _ => false,
        },
        Norm::Shape => std::mem::discriminant(&redis.kind) == std::mem::discriminant(&crowndb.kind),
    }
}

fn sorted_raw(items: &[Reply]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = items.iter().map(|r| r.raw.as_slice()).collect();
    v.sort();
    v
}

/// The sorted field / value pairs of a RESP2 flat array (even length) or a RESP3 map.
pub fn pairs(reply: &Reply) -> Option<Vec<(&[u8], &[u8])>> {
    let mut v: Vec<(&[u8], &[u8])> = match &reply.kind {
        Kind::Map(pairs) => pairs.iter().map(|(k, v)| (k.raw.as_slice(), v.raw.as_slice())).collect(),
        Kind::Array(Some(items)) if items.len() % 2 == 0 => items.chunks(2).map(|c| (c[0].raw.as_slice(), c[1].raw.as_slice())).collect(),
        _ => return None,
    };
    v.sort();
    Some(v)
}

/// HELLO's fields (RESP3 map or RESP2 flat array), `version` and `id` blanked.
fn hello_fields(reply: &Reply) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let pairs: Vec<(&Reply, &Reply)> = match &reply.kind {
        Kind::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        Kind::Array(Some(items)) if items.len() % 2 == 0 => items.chunks(2).map(|c| (&c[0], &c[1])).collect(),
        _ => return None,
    };
    Some(
        pairs
            .into_iter()
            .map(|(k, v)| {
                let name = k.raw.clone();
                let value = if k.bulk() == Some(b"version") || k.bulk() == Some(b"id") { Vec::new() } else { v.raw.clone() };
                (name, value)
            })
            .collect(),
    )
}
