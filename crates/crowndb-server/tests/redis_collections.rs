//! Hashes and sets over the Redis protocol, with Redis 7.0's replies: every hash and set
//! command, WRONGTYPE wherever Redis gives it, the type-aware keyspace commands, RESP3 maps and
//! sets, EXEC of mixed commands as one transaction, inline-to-paged conversion, scans across
//! page splits, huge counts, and the memcached listener's answers for a collection key.

mod common;

use std::collections::BTreeSet;

use common::resp::{bulk, bulks, connect, err, int, start, Resp, NIL, OK};

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

/// The bulk strings and integers of a reply, nested aggregates flattened, in order.
fn items(reply: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = reply;
    while !rest.is_empty() {
        let (line, tail) = rest.split_once("\r\n").expect("a CRLF-terminated line");
        rest = tail;
        match &line[..1] {
            "$" => {
                let n: usize = line[1..].parse().unwrap_or(0);
                if line == "$-1" {
                    out.push("(nil)".into());
                    continue;
                }
                out.push(rest[..n].to_string());
                rest = &rest[n + 2..];
            }
            ":" => out.push(line[1..].to_string()),
            "*" | "~" | "%" => {}
            _ => out.push(line.to_string()),
        }
    }
    out
}

/// The members of an unordered reply.
fn members(reply: &str) -> BTreeSet<String> {
    items(reply).into_iter().collect()
}

fn set_of(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn hash_commands() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("HSET user name ada lang rust"), int(2));
    assert_eq!(c.cmd("HSET user name grace year 1906"), int(1));
    assert_eq!(c.cmd("HGET user name"), bulk("grace"));
    assert_eq!(c.cmd("HGET user nope"), NIL);
    assert_eq!(c.cmd("HGET nokey f"), NIL);
    assert_eq!(c.cmd("HSETNX user name x"), int(0));
    assert_eq!(c.cmd("HSETNX user city paris"), int(1));
    assert_eq!(c.cmd("HMSET user a 1 b 2"), OK);
    assert_eq!(c.cmd("HLEN user"), int(6));
    assert_eq!(c.cmd("HLEN nokey"), int(0));
    assert_eq!(c.cmd("HMGET user name nope lang"), format!("*3\r\n{}{NIL}{}", bulk("grace"), bulk("rust")));
    assert_eq!(c.cmd("HMGET nokey a b"), format!("*2\r\n{NIL}{NIL}"));
    assert_eq!(c.cmd("HSTRLEN user name"), int(5));
    assert_eq!(c.cmd("HSTRLEN user nope"), int(0));
    assert_eq!(c.cmd("HEXISTS user lang"), int(1));
    assert_eq!(c.cmd("HEXISTS user nope"), int(0));
    let all = items(&c.cmd("HGETALL user"));
    assert_eq!(all.len(), 12);
    let pairs: BTreeSet<(String, String)> = all.chunks(2).map(|p| (p[0].clone(), p[1].clone())).collect();
    assert!(pairs.contains(&("year".into(), "1906".into())), "{pairs:?}");
    assert_eq!(members(&c.cmd("HKEYS user")), set_of(&["name", "lang", "year", "city", "a", "b"]));
    assert_eq!(members(&c.cmd("HVALS user")), set_of(&["grace", "rust", "1906", "paris", "1", "2"]));
    assert_eq!(c.cmd("HGETALL nokey"), "*0\r\n");
    assert_eq!(c.cmd("HKEYS nokey"), "*0\r\n");
    assert_eq!(c.cmd("HDEL user a b nope"), int(2));
    assert_eq!(c.cmd("HDEL nokey a"), int(0));
    // Counters.
    assert_eq!(c.cmd("HINCRBY user year 10"), int(1916));
    assert_eq!(c.cmd("HINCRBY user fresh -5"), int(-5));
    assert_eq!(c.cmd("HINCRBY user name 1"), err("ERR hash value is not an integer"));
    assert_eq!(c.cmd("HINCRBY user year x"), err("ERR value is not an integer or out of range"));
    assert_eq!(c.cmd("HSET user big 9223372036854775807"), int(1));
    assert_eq!(c.cmd("HINCRBY user big 1"), err("ERR increment or decrement would overflow"));
    assert_eq!(c.cmd("HINCRBYFLOAT user f 10.5"), bulk("10.5"));
    assert_eq!(c.cmd("HINCRBYFLOAT user f 0.1"), bulk("10.6"));
    assert_eq!(c.cmd("HINCRBYFLOAT user year 1.5"), bulk("1917.5"));
    assert_eq!(c.cmd("HINCRBYFLOAT user name 1"), err("ERR hash value is not a float"));
    assert_eq!(c.cmd("HINCRBYFLOAT user f abc"), err("ERR value is not a valid float"));
    assert_eq!(c.cmd("HGET user f"), bulk("10.6"));
    // Emptied: the key goes.
    assert_eq!(c.cmd("HSET tiny f v"), int(1));
    assert_eq!(c.cmd("HDEL tiny f"), int(1));
    assert_eq!(c.cmd("EXISTS tiny"), int(0));
    assert_eq!(c.cmd("TYPE tiny"), "+none\r\n");
    // Arity.
    assert_eq!(c.cmd("HSET user f"), err("ERR wrong number of arguments for 'hset' command"));
    assert_eq!(c.cmd("HSET user f v g"), err("ERR wrong number of arguments for 'hset' command"));
    assert_eq!(c.cmd("HMSET user f v g"), err("ERR wrong number of arguments for 'hmset' command"));
    assert_eq!(c.cmd("HGET user"), err("ERR wrong number of arguments for 'hget' command"));
    assert_eq!(c.cmd("HDEL user"), err("ERR wrong number of arguments for 'hdel' command"));
}

#[test]
fn set_commands() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("SADD s a b c"), int(3));
    assert_eq!(c.cmd("SADD s c d"), int(1));
    assert_eq!(c.cmd("SCARD s"), int(4));
    assert_eq!(c.cmd("SCARD nokey"), int(0));
    assert_eq!(c.cmd("SISMEMBER s a"), int(1));
    assert_eq!(c.cmd("SISMEMBER s z"), int(0));
    assert_eq!(c.cmd("SMISMEMBER s a z d"), "*3\r\n:1\r\n:0\r\n:1\r\n");
    assert_eq!(c.cmd("SMISMEMBER nokey a"), "*1\r\n:0\r\n");
    assert_eq!(members(&c.cmd("SMEMBERS s")), set_of(&["a", "b", "c", "d"]));
    assert_eq!(c.cmd("SMEMBERS nokey"), "*0\r\n");
    assert_eq!(c.cmd("SREM s a z"), int(1));
    assert_eq!(c.cmd("SREM nokey a"), int(0));
    // Algebra.
    assert_eq!(c.cmd("SADD t c d e"), int(3));
    assert_eq!(members(&c.cmd("SINTER s t")), set_of(&["c", "d"]));
    assert_eq!(c.cmd("SINTER s nokey"), "*0\r\n");
    assert_eq!(members(&c.cmd("SUNION s t nokey")), set_of(&["b", "c", "d", "e"]));
    assert_eq!(members(&c.cmd("SDIFF s t")), set_of(&["b"]));
    assert_eq!(c.cmd("SDIFF nokey s"), "*0\r\n");
    assert_eq!(c.cmd("SINTERCARD 2 s t"), int(2));
    assert_eq!(c.cmd("SINTERCARD 2 s t LIMIT 1"), int(1));
    assert_eq!(c.cmd("SINTERCARD 2 s t LIMIT 0"), int(2));
    assert_eq!(c.cmd("SINTERCARD 0 s"), err("ERR numkeys should be greater than 0"));
    assert_eq!(c.cmd("SINTERCARD 3 s t"), err("ERR Number of keys can't be greater than number of args"));
    assert_eq!(c.cmd("SINTERCARD 2 s t LIMIT -1"), err("ERR LIMIT can't be negative"));
    assert_eq!(c.cmd("SINTERCARD 2 s t FOO 1"), err("ERR syntax error"));
    assert_eq!(c.cmd("SINTERSTORE dst s t"), int(2));
    assert_eq!(members(&c.cmd("SMEMBERS dst")), set_of(&["c", "d"]));
    assert_eq!(c.cmd("SUNIONSTORE dst s t"), int(4));
    assert_eq!(c.cmd("SDIFFSTORE dst s t"), int(1));
    assert_eq!(c.cmd("SMEMBERS dst"), bulks(&["b"]));
    // A store over a string replaces it; an empty result deletes the destination.
    assert_eq!(c.cmd("SET str v"), OK);
    assert_eq!(c.cmd("SUNIONSTORE str s"), int(3));
    assert_eq!(c.cmd("TYPE str"), "+set\r\n");
    assert_eq!(c.cmd("SINTERSTORE dst s nokey"), int(0));
    assert_eq!(c.cmd("EXISTS dst"), int(0));
    // The destination may be a source.
    assert_eq!(c.cmd("SUNIONSTORE s s t"), int(4));
    // SMOVE.
    assert_eq!(c.cmd("SMOVE s moved b"), int(1));
    assert_eq!(c.cmd("SMOVE s moved b"), int(0));
    assert_eq!(c.cmd("SISMEMBER moved b"), int(1));
    assert_eq!(c.cmd("SMOVE nokey moved b"), int(0));
    assert_eq!(c.cmd("SMOVE moved moved b"), int(1));
    assert_eq!(c.cmd("SET plain v"), OK);
    assert_eq!(c.cmd("SMOVE s plain c"), WRONGTYPE);
    assert_eq!(c.cmd("SISMEMBER s c"), int(1), "nothing moved");
    assert_eq!(c.cmd("SMOVE moved x b"), int(1));
    assert_eq!(c.cmd("EXISTS moved"), int(0), "emptied by the move");
    // SPOP and SRANDMEMBER.
    assert_eq!(c.cmd("SADD p 1 2 3 4 5"), int(5));
    let one = items(&c.cmd("SPOP p"));
    assert_eq!(one.len(), 1);
    assert_eq!(c.cmd(&format!("SISMEMBER p {}", one[0])), int(0));
    assert_eq!(items(&c.cmd("SPOP p 2")).len(), 2);
    assert_eq!(c.cmd("SCARD p"), int(2));
    assert_eq!(items(&c.cmd("SPOP p 100")).len(), 2);
    assert_eq!(c.cmd("EXISTS p"), int(0));
    assert_eq!(c.cmd("SPOP p"), NIL);
    assert_eq!(c.cmd("SPOP p 3"), "*0\r\n");
    assert_eq!(c.cmd("SPOP s -1"), err("ERR value is out of range, must be positive"));
    assert_eq!(c.cmd("SPOP s 1 2"), err("ERR syntax error"));
    assert_eq!(c.cmd("SRANDMEMBER nokey"), NIL);
    assert_eq!(c.cmd("SRANDMEMBER nokey 5"), "*0\r\n");
    assert_eq!(c.cmd("SRANDMEMBER s 0"), "*0\r\n");
    let r = items(&c.cmd("SRANDMEMBER s 100"));
    assert_eq!(r.iter().collect::<BTreeSet<_>>().len(), r.len(), "distinct");
    assert_eq!(r.len(), 3);
    assert_eq!(items(&c.cmd("SRANDMEMBER s -10")).len(), 10, "repetitions allowed");
    assert_eq!(c.cmd("SRANDMEMBER s x"), err("ERR value is not an integer or out of range"));
    assert_eq!(c.cmd("SRANDMEMBER s 1 2"), err("ERR syntax error"));
}

#[test]
fn wrongtype_everywhere_redis_gives_it() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("HSET h f v"), int(1));
    assert_eq!(c.cmd("SADD s m"), int(1));
    assert_eq!(c.cmd("SET str v"), OK);
    for cmd in [
        "GET h",
        "APPEND h x",
        "INCR h",
        "INCRBY h 2",
        "DECR h",
        "INCRBYFLOAT h 1",
        "GETRANGE h 0 1",
        "STRLEN h",
        "SETRANGE h 0 x",
        "GETSET h x",
        "GETDEL h",
        "GETEX h PERSIST",
        "SET h x GET",
        "GET s",
    ] {
        assert_eq!(c.cmd(cmd), WRONGTYPE, "{cmd}");
    }
    for cmd in [
        "HSET str f v",
        "HGET str f",
        "HGETALL str",
        "HLEN str",
        "HINCRBY str f 1",
        "HDEL str f",
        "HRANDFIELD str",
        "HSCAN str 0",
        "HSET s f v",
        "SADD str m",
        "SADD h m",
        "SISMEMBER str m",
        "SMEMBERS h",
        "SCARD str",
        "SPOP str",
        "SRANDMEMBER str 2",
        "SINTER s h",
        "SUNION s str",
        "SDIFF s h",
        "SINTERCARD 2 s h",
        "SINTERSTORE d s h",
        "SMOVE h s m",
        "SSCAN h 0",
    ] {
        assert_eq!(c.cmd(cmd), WRONGTYPE, "{cmd}");
    }
    assert_eq!(c.cmd("HGET h f"), bulk("v"), "untouched");
    // MGET answers nil for keys of another type.
    assert_eq!(c.cmd("MGET str h s nokey"), format!("*4\r\n{}{NIL}{NIL}{NIL}", bulk("v")));
    // SET and friends treat any type as existing and overwrite it.
    assert_eq!(c.cmd("SET h x NX"), NIL);
    assert_eq!(c.cmd("SETNX h x"), int(0));
    assert_eq!(c.cmd("MSETNX h x other y"), int(0));
    assert_eq!(c.cmd("EXISTS other"), int(0));
    assert_eq!(c.cmd("TYPE h"), "+hash\r\n");
    assert_eq!(c.cmd("EXPIRE s 100"), int(1));
    assert_eq!(c.cmd("SET s x XX KEEPTTL"), OK);
    assert_eq!(c.cmd("TYPE s"), "+string\r\n");
    let ttl = c.cmd("TTL s");
    assert!(ttl == int(100) || ttl == int(99), "KEEPTTL kept the set's deadline: {ttl}");
    assert_eq!(c.cmd("SET h plain"), OK);
    assert_eq!(c.cmd("GET h"), bulk("plain"));
    assert_eq!(c.cmd("HGET h f"), WRONGTYPE);
}

#[test]
fn keyspace_commands_over_every_type() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("HSET h f v"), int(1));
    assert_eq!(c.cmd("SADD s 1 2 3"), int(3));
    assert_eq!(c.cmd("SADD w a b"), int(2));
    assert_eq!(c.cmd("SET str v"), OK);
    assert_eq!(c.cmd("TYPE h"), "+hash\r\n");
    assert_eq!(c.cmd("TYPE s"), "+set\r\n");
    assert_eq!(c.cmd("TYPE str"), "+string\r\n");
    assert_eq!(c.cmd("TYPE nokey"), "+none\r\n");
    assert_eq!(c.cmd("OBJECT ENCODING h"), bulk("listpack"));
    assert_eq!(c.cmd("OBJECT ENCODING s"), bulk("intset"));
    assert_eq!(c.cmd("OBJECT ENCODING w"), bulk("hashtable"));
    assert_eq!(c.cmd("OBJECT ENCODING str"), bulk("embstr"));
    assert_eq!(c.cmd("SET n 12345"), OK);
    assert_eq!(c.cmd("OBJECT ENCODING n"), bulk("int"));
    assert_eq!(c.cmd("OBJECT ENCODING nokey"), NIL);
    assert_eq!(c.cmd("EXISTS h s str nokey"), int(3));
    assert_eq!(c.cmd("DBSIZE"), int(5));
    assert_eq!(members(&c.cmd("KEYS *")), set_of(&["h", "s", "w", "str", "n"]));
    assert_eq!(members(&c.cmd("SCAN 0 COUNT 100 TYPE set")).into_iter().filter(|k| k != "0").collect::<BTreeSet<_>>(), set_of(&["s", "w"]));
    assert_eq!(members(&c.cmd("SCAN 0 COUNT 100 TYPE hash")), set_of(&["0", "h"]));
    assert_eq!(members(&c.cmd("SCAN 0 COUNT 100 TYPE string")), set_of(&["0", "str", "n"]));
    let info = c.cmd("INFO keyspace");
    assert!(info.contains("db0:keys=5,"), "{info}");
    // Expiry.
    assert_eq!(c.cmd("TTL h"), int(-1));
    assert_eq!(c.cmd("EXPIRE h 100"), int(1));
    assert_eq!(c.cmd("EXPIRE h 50 GT"), int(0));
    assert_eq!(c.cmd("EXPIRE h 200 GT"), int(1));
    assert_eq!(c.cmd("EXPIRE h 300 NX"), int(0));
    assert_eq!(c.cmd("TTL h"), int(200));
    let pttl: i64 = c.cmd("PTTL h")[1..].trim().parse().unwrap();
    assert!((199_000..=200_000).contains(&pttl), "{pttl}");
    assert_eq!(c.cmd("PERSIST h"), int(1));
    assert_eq!(c.cmd("PERSIST h"), int(0));
    assert_eq!(c.cmd("TTL h"), int(-1));
    assert_eq!(c.cmd("HGET h f"), bulk("v"), "a deadline change keeps the fields");
    assert_eq!(c.cmd("TTL nokey"), int(-2));
    assert_eq!(c.cmd("PEXPIRE w 1"), int(1));
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(c.cmd("EXISTS w"), int(0));
    assert_eq!(c.cmd("SMEMBERS w"), "*0\r\n");
    assert_eq!(c.cmd("EXPIRE s -1"), int(1), "a past deadline deletes");
    assert_eq!(c.cmd("TYPE s"), "+none\r\n");
    // RENAME / RENAMENX / COPY.
    assert_eq!(c.cmd("SADD s 1 2 3"), int(3));
    assert_eq!(c.cmd("EXPIRE h 100"), int(1));
    assert_eq!(c.cmd("RENAME h h2"), OK);
    assert_eq!(c.cmd("HGET h2 f"), bulk("v"));
    assert_eq!(c.cmd("TTL h2"), int(100));
    assert_eq!(c.cmd("EXISTS h"), int(0));
    assert_eq!(c.cmd("RENAME h h3"), err("ERR no such key"));
    assert_eq!(c.cmd("RENAMENX h2 s"), int(0));
    assert_eq!(c.cmd("RENAMENX h2 h"), int(1));
    assert_eq!(c.cmd("RENAME s str"), OK, "over a string");
    assert_eq!(c.cmd("SCARD str"), int(3));
    assert_eq!(c.cmd("COPY str s"), int(1));
    assert_eq!(c.cmd("COPY str s"), int(0));
    assert_eq!(c.cmd("SADD s 4"), int(1));
    assert_eq!(c.cmd("SCARD str"), int(3), "a copy is its own collection");
    assert_eq!(c.cmd("COPY s str REPLACE"), int(1));
    assert_eq!(c.cmd("SCARD str"), int(4));
    assert_eq!(c.cmd("COPY h hcopy"), int(1));
    assert_eq!(c.cmd("HGET hcopy f"), bulk("v"));
    // DEL / UNLINK.
    assert_eq!(c.cmd("DEL h s nokey"), int(2));
    assert_eq!(c.cmd("UNLINK str hcopy"), int(2));
    assert_eq!(c.cmd("EXISTS h s str hcopy"), int(0));
    assert_eq!(c.cmd("RANDOMKEY"), bulk("n"));
    assert_eq!(c.cmd("OBJECT FOO n"), err("ERR unknown subcommand 'FOO'. Try OBJECT HELP."));
}

#[test]
fn resp3_maps_and_sets() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert!(c.cmd("HELLO 3").starts_with('%'));
    assert_eq!(c.cmd("HSET h f v"), int(1));
    assert_eq!(c.cmd("HGETALL h"), format!("%1\r\n{}{}", bulk("f"), bulk("v")));
    assert_eq!(c.cmd("HGETALL nokey"), "%0\r\n");
    assert_eq!(c.cmd("HGET h nope"), "_\r\n");
    assert_eq!(c.cmd("SADD s a"), int(1));
    assert_eq!(c.cmd("SMEMBERS s"), format!("~1\r\n{}", bulk("a")));
    assert_eq!(c.cmd("SINTER s"), format!("~1\r\n{}", bulk("a")));
    assert_eq!(c.cmd("SMEMBERS nokey"), "~0\r\n");
    assert_eq!(c.cmd("SRANDMEMBER s 1"), format!("*1\r\n{}", bulk("a")));
    assert_eq!(c.cmd("HRANDFIELD h 1 WITHVALUES"), format!("*1\r\n*2\r\n{}{}", bulk("f"), bulk("v")));
    assert_eq!(c.cmd("SPOP s 1"), format!("~1\r\n{}", bulk("a")));
}

#[test]
fn hrandfield_counts() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("HSET h a 1 b 2 c 3"), int(3));
    assert!(["a", "b", "c"].map(bulk).contains(&c.cmd("HRANDFIELD h")));
    assert_eq!(c.cmd("HRANDFIELD nokey"), NIL);
    assert_eq!(c.cmd("HRANDFIELD nokey 3"), "*0\r\n");
    assert_eq!(members(&c.cmd("HRANDFIELD h 10")), set_of(&["a", "b", "c"]));
    assert_eq!(items(&c.cmd("HRANDFIELD h 2")).len(), 2);
    assert_eq!(items(&c.cmd("HRANDFIELD h -7")).len(), 7);
    let with = items(&c.cmd("HRANDFIELD h -5 WITHVALUES"));
    assert_eq!(with.len(), 10);
    for pair in with.chunks(2) {
        assert_eq!(c.cmd(&format!("HGET h {}", pair[0])), bulk(&pair[1]));
    }
    assert_eq!(c.cmd("HRANDFIELD h 1 FOO"), err("ERR syntax error"));
    assert_eq!(c.cmd("HRANDFIELD h x"), err("ERR value is not an integer or out of range"));
    assert_eq!(c.cmd("HRANDFIELD h -9223372036854775807 WITHVALUES"), err("ERR value is out of range"));
    // Huge counts: bounded by the collection (distinct) or refused (repetitions).
    assert_eq!(items(&c.cmd("HRANDFIELD h 9223372036854775807")).len(), 3);
    assert_eq!(items(&c.cmd("SPOP nokey 9223372036854775807")).len(), 0);
    assert_eq!(c.cmd("SADD s x y"), int(2));
    assert_eq!(items(&c.cmd("SRANDMEMBER s 9223372036854775807")).len(), 2);
    let refused = c.cmd("SRANDMEMBER s -9223372036854775807");
    assert!(refused.starts_with("-ERR count of random members"), "{refused}");
    assert!(c.cmd("HRANDFIELD h -100000000").starts_with("-ERR "));
    assert_eq!(items(&c.cmd("SPOP s 9223372036854775807")).len(), 2);
}

#[test]
fn exec_runs_hash_set_and_string_commands_as_one_transaction() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("SET counter 1"), OK);
    assert_eq!(c.cmd("MULTI"), OK);
    for cmd in ["HSET h f v", "SADD s a b", "INCR counter", "HINCRBY h n 5", "SMOVE s t a", "GET h", "HGET h f", "RENAME h h2"] {
        assert_eq!(c.cmd(cmd), "+QUEUED\r\n", "{cmd}");
    }
    assert_eq!(
        c.cmd("EXEC"),
        format!("*8\r\n:1\r\n:2\r\n:2\r\n:5\r\n:1\r\n{WRONGTYPE}{}+OK\r\n", bulk("v")),
        "the error of one command does not undo the others"
    );
    assert_eq!(c.cmd("HGETALL h2"), bulks(&["f", "v", "n", "5"]));
    assert_eq!(c.cmd("SMEMBERS t"), bulks(&["a"]));
    // WATCH of a hash: a change by another client aborts.
    let mut other = connect(&server);
    assert_eq!(c.cmd("WATCH h2"), OK);
    assert_eq!(other.cmd("HSET h2 f changed"), int(0));
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("HSET h2 g 1"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), "*-1\r\n");
    assert_eq!(c.cmd("HEXISTS h2 g"), int(0));
    // Unchanged: it runs.
    assert_eq!(c.cmd("WATCH h2 t"), OK);
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("HSET h2 g 1"), "+QUEUED\r\n");
    assert_eq!(c.cmd("SREM t a"), "+QUEUED\r\n");
    assert_eq!(c.cmd("SCARD t"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), "*3\r\n:1\r\n:1\r\n:0\r\n");
    // Expiry inside EXEC.
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("EXPIRE h2 100"), "+QUEUED\r\n");
    assert_eq!(c.cmd("TTL h2"), "+QUEUED\r\n");
    assert_eq!(c.cmd("PERSIST h2"), "+QUEUED\r\n");
    assert_eq!(c.cmd("TTL h2"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), "*4\r\n:1\r\n:100\r\n:1\r\n:-1\r\n");
}

#[test]
fn an_exec_of_collection_commands_is_one_batch_across_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    {
        let server = common::start_with(dir.path(), |c| c.durability = crowndb::Durability::Always);
        let mut c = connect(&server);
        assert_eq!(c.cmd("MULTI"), OK);
        for i in 0..50 {
            assert_eq!(c.cmd(&format!("HSET h f{i} {i}")), "+QUEUED\r\n");
            assert_eq!(c.cmd(&format!("SADD s m{i}")), "+QUEUED\r\n");
        }
        assert_eq!(c.cmd("SET done yes"), "+QUEUED\r\n");
        assert_eq!(items(&c.cmd("EXEC")).len(), 101);
        server.shutdown().unwrap();
    }
    let server = common::start(dir.path());
    let mut c = connect(&server);
    assert_eq!(c.cmd("HLEN h"), int(50));
    assert_eq!(c.cmd("SCARD s"), int(50));
    assert_eq!(c.cmd("GET done"), bulk("yes"));
}

#[test]
fn config_set_moves_hashes_and_sets_from_inline_to_pages() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("CONFIG GET hash-max-listpack-entries"), format!("*2\r\n{}{}", bulk("hash-max-listpack-entries"), bulk("128")));
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-entries 4 set-max-intset-entries 3"), OK);
    assert_eq!(c.cmd("CONFIG GET hash-max-ziplist-entries"), format!("*2\r\n{}{}", bulk("hash-max-ziplist-entries"), bulk("4")));
    assert_eq!(
        c.cmd("CONFIG SET hash-max-listpack-value x"),
        err("ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-value') - argument must be a memory value")
    );
    assert_eq!(c.cmd("HSET h a 1 b 2 c 3 d 4"), int(4));
    assert_eq!(c.cmd("OBJECT ENCODING h"), bulk("listpack"));
    assert_eq!(c.cmd("HSET h e 5"), int(1));
    assert_eq!(c.cmd("OBJECT ENCODING h"), bulk("hashtable"));
    assert_eq!(c.cmd("HDEL h e d"), int(2));
    assert_eq!(c.cmd("OBJECT ENCODING h"), bulk("hashtable"), "a paged hash never goes back inline");
    assert_eq!(c.cmd("HMGET h a b c d"), format!("*4\r\n{}{}{}{NIL}", bulk("1"), bulk("2"), bulk("3")));
    assert_eq!(c.cmd("SADD s 1 2 3"), int(3));
    assert_eq!(c.cmd("OBJECT ENCODING s"), bulk("intset"));
    assert_eq!(c.cmd("SADD s 4"), int(1));
    assert_eq!(c.cmd("OBJECT ENCODING s"), bulk("hashtable"));
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-value 3"), OK);
    assert_eq!(c.cmd("HSET v f long-value"), int(1));
    assert_eq!(c.cmd("OBJECT ENCODING v"), bulk("hashtable"));
}

#[test]
fn hscan_and_sscan_return_every_member_across_page_splits_while_members_are_added() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-entries 8 set-max-intset-entries 8"), OK);
    let original: BTreeSet<String> = (0..300).map(|i| format!("m{i}")).collect();
    for m in &original {
        assert_eq!(c.cmd(&format!("HSET h {m} v-{m}")), int(1));
        assert_eq!(c.cmd(&format!("SADD s {m}")), int(1));
    }
    for (command, kind) in [("HSCAN h", "hash"), ("SSCAN s", "set")] {
        let mut seen = BTreeSet::new();
        let mut cursor = "0".to_string();
        let mut added = 0;
        loop {
            let reply = items(&c.cmd(&format!("{command} {cursor} COUNT 20")));
            cursor = reply[0].clone();
            if kind == "hash" {
                for pair in reply[1..].chunks(2) {
                    assert_eq!(pair[1], format!("v-{}", pair[0]));
                    seen.insert(pair[0].clone());
                }
            } else {
                seen.extend(reply[1..].iter().cloned());
            }
            // Grow the collection during the walk: buckets split under the cursor.
            for _ in 0..40 {
                let m = format!("new{added}");
                added += 1;
                let add = if kind == "hash" { format!("HSET h {m} v-{m}") } else { format!("SADD s {m}") };
                assert_eq!(c.cmd(&add), int(1));
            }
            if cursor == "0" {
                break;
            }
        }
        let missing: Vec<_> = original.difference(&seen).collect();
        assert!(missing.is_empty(), "{kind}: {missing:?} never returned");
    }
    // MATCH and COUNT arguments.
    let matched = items(&c.cmd("HSCAN h 0 MATCH m1? COUNT 100000"));
    assert_eq!(matched[0], "0");
    assert_eq!(matched[1..].chunks(2).map(|p| p[0].clone()).collect::<BTreeSet<_>>(), (10..20).map(|i| format!("m{i}")).collect());
    assert_eq!(c.cmd("SSCAN s 0 COUNT 0"), err("ERR syntax error"));
    assert_eq!(c.cmd("SSCAN s x"), err("ERR invalid cursor"));
    assert_eq!(c.cmd("SSCAN s 0 FOO bar"), err("ERR syntax error"));
    assert_eq!(c.cmd("HSCAN nokey 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
    // A small hash is returned whole with cursor 0, as Redis does with a listpack.
    assert_eq!(c.cmd("HSET small f v"), int(1));
    assert_eq!(c.cmd("HSCAN small 0"), format!("*2\r\n{}*2\r\n{}{}", bulk("0"), bulk("f"), bulk("v")));
}

#[test]
fn members_too_large_for_a_page_get_a_clear_error_and_nothing_is_written() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    // Segments are 32 MiB: a page of one member must fit in one.
    let huge = "x".repeat(17 << 20);
    let reply = c.call(&["HSET", "h", "small", "v", "big", &huge]);
    assert!(reply.starts_with("-ERR member of ") && reply.contains("too large"), "{reply}");
    assert_eq!(c.cmd("EXISTS h"), int(0), "the whole command failed");
    let reply = c.call(&["SADD", "s", &huge]);
    assert!(reply.starts_with("-ERR member of "), "{reply}");
    assert_eq!(c.cmd("PING"), "+PONG\r\n");
}

#[test]
fn the_memcached_listener_never_reads_or_rewrites_a_collection() {
    let (_dir, server) = start();
    let mut r = connect(&server);
    let mut m = common::Client::connect(&server);
    assert_eq!(r.cmd("HSET h f v"), int(1));
    assert_eq!(r.cmd("SADD s a"), int(1));
    let refused = "SERVER_ERROR key holds a Redis hash or set; use the Redis protocol for it";
    assert_eq!(m.call("get h"), refused);
    assert_eq!(m.call("gets s"), refused);
    assert_eq!(m.call("gat 100 h"), refused);
    assert_eq!(m.store("append", "h", 0, 0, b"x"), refused);
    assert_eq!(m.store("prepend", "s", 0, 0, b"x"), refused);
    assert_eq!(m.store("add", "h", 0, 0, b"x"), refused);
    assert_eq!(m.call("incr h 1"), refused);
    m.send(b"cas h 0 0 1 1\r\nx\r\n");
    assert_eq!(m.line(), refused);
    assert_eq!(r.cmd("TTL h"), int(-1), "gat changed nothing");
    assert_eq!(r.cmd("HGET h f"), bulk("v"));
    // Key-level operations work on any type, as Redis's EXPIRE / DEL / SET do.
    assert_eq!(m.call("touch h 100"), "TOUCHED");
    assert_eq!(r.cmd("TTL h"), int(100));
    assert_eq!(r.cmd("HGET h f"), bulk("v"));
    assert_eq!(m.call("delete h"), "DELETED");
    assert_eq!(r.cmd("EXISTS h"), int(0));
    assert_eq!(m.set("s", b"now a string"), "STORED");
    assert_eq!(r.cmd("GET s"), bulk("now a string"));
}

#[test]
fn flushall_and_flushdb_remove_hashes_and_sets_too() {
    // docs/differential.md D10: FLUSHALL answered WRONGTYPE and removed nothing while a
    // collection existed.
    let (_dir, server) = start();
    let mut c = connect(&server);
    for round in 0..2 {
        assert_eq!(c.cmd("HSET h a 1 b 2"), int(2));
        assert_eq!(c.cmd("SADD s x y"), int(2));
        assert_eq!(c.cmd("SET k v"), "+OK\r\n");
        let flush = if round == 0 { "FLUSHALL" } else { "FLUSHDB" };
        assert_eq!(c.cmd(flush), "+OK\r\n");
        assert_eq!(c.cmd("DBSIZE"), int(0));
        assert_eq!(c.cmd("HLEN h"), int(0));
        assert_eq!(c.cmd("EXISTS s"), int(0));
    }
}

#[test]
fn d11_hscan_and_sscan_look_the_key_up_before_the_options() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    let empty = "*2\r\n$1\r\n0\r\n*0\r\n";
    assert_eq!(c.cmd("HSCAN nokey 0 NOVALUES"), empty);
    assert_eq!(c.cmd("SSCAN nokey 0 COUNT 0"), empty);
    assert_eq!(c.cmd("SSCAN nokey 0 BOGUS"), empty);
    assert_eq!(c.cmd("SET str v"), OK);
    assert_eq!(c.cmd("HSCAN str 0 COUNT 0"), WRONGTYPE);
    // The cursor first, the options last.
    assert_eq!(c.cmd("HSCAN nokey x COUNT 0"), err("ERR invalid cursor"));
    assert_eq!(c.cmd("HSET h a 1"), int(1));
    assert_eq!(c.cmd("HSCAN h 0 COUNT 0"), err("ERR syntax error"));
    assert_eq!(c.cmd("HSCAN h 0 COUNT x"), err("ERR value is not an integer or out of range"));
}

#[test]
fn d15_spop_and_sintercard_give_their_range_messages_for_non_integers() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    let positive = err("ERR value is out of range, must be positive");
    assert_eq!(c.cmd("SPOP s x"), positive);
    assert_eq!(c.cmd("SPOP s 9223372036854775808"), positive);
    assert_eq!(c.cmd("SPOP s -1"), positive);
    assert_eq!(c.cmd("SINTERCARD x a"), err("ERR numkeys should be greater than 0"));
    assert_eq!(c.cmd("SINTERCARD 0 a"), err("ERR numkeys should be greater than 0"));
    assert_eq!(c.cmd("SINTERCARD 2 a b LIMIT x"), err("ERR LIMIT can't be negative"));
    assert_eq!(c.cmd("SINTERCARD 2 a b LIMIT -1"), err("ERR LIMIT can't be negative"));
}

#[test]
fn d16_d18_setrange_and_incrbyfloat_check_the_type_first() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("SADD t 1"), int(1));
    assert_eq!(c.cmd("INCRBYFLOAT t abc"), WRONGTYPE);
    assert_eq!(c.cmd("INCRBYFLOAT t nan"), WRONGTYPE);
    assert_eq!(c.cmd("SETRANGE t 536870911 ab"), WRONGTYPE);
    assert_eq!(c.cmd("SETRANGE nokey 536870911 ab"), err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"));
    assert_eq!(c.cmd("INCRBYFLOAT nokey abc"), err("ERR value is not a valid float"));
}

#[test]
fn d13_d14_config_set_of_the_encoding_limits_validates_as_redis_7_0() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    let failed = |name: &str, why: &str| err(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"));
    let between = "argument must be between 0 and 9223372036854775807 inclusive";
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-entries -1"), failed("hash-max-listpack-entries", between));
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-value abc"), failed("hash-max-listpack-value", "argument must be a memory value"));
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-value -1"), failed("hash-max-listpack-value", "argument must be a memory value"));
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-value 99999999999999999999"), failed("hash-max-listpack-value", between));
    let unparsed = "argument couldn't be parsed into an integer";
    assert_eq!(c.cmd("CONFIG SET hash-max-ziplist-entries 9223372036854775808"), failed("hash-max-ziplist-entries", unparsed));
    assert_eq!(c.cmd("CONFIG SET Hash-Max-Ziplist-Entries abc"), failed("hash-max-ziplist-entries", unparsed));
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-entries +1"), failed("hash-max-listpack-entries", unparsed));
    assert_eq!(c.cmd("CONFIG SET set-max-intset-entries -1"), failed("set-max-intset-entries", between));
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-value 2kb"), OK);
    assert_eq!(c.cmd("CONFIG GET hash-max-listpack-value"), bulks(&["hash-max-listpack-value", "2048"]));
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-entries 9223372036854775807"), OK);
    // Redis 7.2's, unknown to 7.0.
    for name in ["set-max-listpack-entries", "set-max-listpack-value"] {
        assert_eq!(
            c.cmd(&format!("CONFIG SET {name} 0")),
            err(&format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'"))
        );
    }
    assert_eq!(c.cmd("CONFIG GET set-max-*"), bulks(&["set-max-intset-entries", "512"]));
}

#[test]
fn d12_object_encoding_is_history_converted_on_insertion_never_back() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    let encoding = |c: &mut Resp, key: &str| c.cmd(&format!("OBJECT ENCODING {key}"));
    assert_eq!(c.cmd("SADD s 1 x"), int(2));
    assert_eq!(c.cmd("SREM s x"), int(1));
    assert_eq!(encoding(&mut c, "s"), bulk("hashtable"), "never back to intset");
    // HSET converts by its arguments before it runs, whatever the final value.
    assert_eq!(c.cmd(&format!("HSET l f2 {} f2 20", "a".repeat(70))), int(1));
    assert_eq!(encoding(&mut c, "l"), bulk("hashtable"));
    assert_eq!(c.cmd("HGET l f2"), bulk("20"));
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-entries 3"), OK);
    assert_eq!(c.cmd("HSET c a 1 b 2 c 3 d 4"), int(4));
    assert_eq!(c.cmd("HDEL c a b c"), int(3));
    assert_eq!(c.cmd("COPY c c2"), int(1));
    assert_eq!(encoding(&mut c, "c2"), bulk("hashtable"), "COPY keeps the encoding");
    assert_eq!(c.cmd("RENAME c2 c3"), OK);
    assert_eq!(encoding(&mut c, "c3"), bulk("hashtable"));
    // A removal never converts, even past a limit lowered since; an insertion does.
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-entries 128"), OK);
    assert_eq!(c.cmd("HSET m a 1 b 2 c 3 d 4"), int(4));
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-entries 2"), OK);
    assert_eq!(c.cmd("HDEL m a"), int(1));
    assert_eq!(encoding(&mut c, "m"), bulk("listpack"));
    assert_eq!(c.cmd("HSET m e 5"), int(1));
    assert_eq!(encoding(&mut c, "m"), bulk("hashtable"));
    assert_eq!(c.cmd("CONFIG SET set-max-intset-entries 2"), OK);
    assert_eq!(c.cmd("SADD i 1 2"), int(2));
    assert_eq!(c.cmd("SADD i 3"), int(1));
    assert_eq!(c.cmd("SREM i 3"), int(1));
    assert_eq!(encoding(&mut c, "i"), bulk("hashtable"));
    // The STORE forms build a new set, by its members.
    assert_eq!(c.cmd("SADD j 1 2"), int(2));
    assert_eq!(c.cmd("SADD w a b"), int(2));
    assert_eq!(c.cmd("SDIFFSTORE d j w"), int(2));
    assert_eq!(encoding(&mut c, "d"), bulk("intset"));
    assert_eq!(c.cmd("SINTERSTORE e w w"), int(2));
    assert_eq!(encoding(&mut c, "e"), bulk("hashtable"));
    // A long value already there under a limit lowered since does not convert: only what is
    // inserted (and the count) does, HINCRBY's result included.
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-entries 128"), OK);
    assert_eq!(c.cmd("HSET v a 1 g9 hello-world"), int(2));
    assert_eq!(c.cmd("CONFIG SET hash-max-listpack-value 7"), OK);
    assert_eq!(c.cmd("HMSET v g6 hello 6 inf"), OK);
    assert_eq!(encoding(&mut c, "v"), bulk("listpack"));
    assert_eq!(c.cmd("HINCRBY v a 12345677"), int(12345678));
    assert_eq!(encoding(&mut c, "v"), bulk("hashtable"));
}
