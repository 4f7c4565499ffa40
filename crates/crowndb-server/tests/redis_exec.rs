//! MULTI/EXEC as one batch on disk: replies inside a transaction (compared with Redis 7.2's),
//! queues that fall back to running command by command, and a transaction on disk after
//! EXEC. Apart from `redis.rs`: the 20 MiB values here would disturb its memory measurement.

mod common;

use common::resp::{bulk, bulks, connect, int, start, Resp, NIL, OK};

/// Commands inside MULTI see the transaction's own earlier writes, and every reply is the one
/// Redis 7.2 gives (recorded from `redis-server` with this exact queue on an empty database).
#[test]
fn commands_inside_exec_see_the_transactions_own_writes_as_redis_does() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::start(dir.path());
    let mut c = connect(&server);
    let queue = [
        "SET a 1",
        "INCR k",
        "INCR k",
        "GET k",
        "APPEND a x",
        "GET a",
        "SETNX a z",
        "SETNX n z",
        "GETSET n y",
        "EXPIRE a 100",
        "TTL a",
        "PERSIST a",
        "TTL a",
        "SET t v EX 1000",
        "TTL t",
        "SET t w KEEPTTL",
        "TTL t",
        "RENAME n m",
        "EXISTS n m a k",
        "MSET p 1 q 2",
        "MSETNX p 3 r 4",
        "COPY p r",
        "GET r",
        "DEL a r",
        "EXISTS a",
        "GET a",
        "INCR a",
        "GETDEL q",
        "STRLEN q",
        "SETRANGE s 2 ab",
        "GETRANGE s 2 -1",
        "INCRBYFLOAT f 1.5",
        "EXPIRE m 0",
        "EXISTS m",
        "TYPE k",
        "SET x 1 NX",
        "SET x 2 NX GET",
        "SET x 3 XX GET",
        "GETEX x PERSIST",
        "DECRBY x 10",
        "SET s2 abc",
        "INCR s2",
        "PING",
        "ECHO hi",
    ];
    assert_eq!(c.cmd("MULTI"), OK);
    for command in queue {
        assert_eq!(c.cmd(command), "+QUEUED\r\n", "{command}");
    }
    let redis = "*44\r\n+OK\r\n:1\r\n:2\r\n$1\r\n2\r\n:2\r\n$2\r\n1x\r\n:0\r\n:1\r\n$1\r\nz\r\n:1\r\n:100\r\n:1\r\n:-1\r\n+OK\r\n\
                 :1000\r\n+OK\r\n:1000\r\n+OK\r\n:3\r\n+OK\r\n:0\r\n:1\r\n$1\r\n1\r\n:2\r\n:0\r\n$-1\r\n:1\r\n$1\r\n2\r\n:0\r\n:4\r\n\
                 $2\r\nab\r\n$3\r\n1.5\r\n:1\r\n:0\r\n+string\r\n+OK\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n3\r\n:-7\r\n+OK\r\n\
                 -ERR value is not an integer or out of range\r\n+PONG\r\n$2\r\nhi\r\n";
    assert_eq!(c.cmd("EXEC"), redis);
    // What the transaction left, seen by another client and after a restart.
    let expected = [
        ("GET k", bulk("2")),
        ("GET a", bulk("1")),
        ("GET m", NIL.to_string()),
        ("GET n", NIL.to_string()),
        ("GET p", bulk("1")),
        ("GET q", NIL.to_string()),
        ("GET r", NIL.to_string()),
        ("GET s", "$4\r\n\0\0ab\r\n".to_string()),
        ("GET f", bulk("1.5")),
        ("GET t", bulk("w")),
        ("GET x", bulk("-7")),
        ("TTL x", int(-1)),
        ("GET s2", bulk("abc")),
        ("DBSIZE", int(8)),
    ];
    let mut other = connect(&server);
    for (command, reply) in &expected {
        assert_eq!(&other.cmd(command), reply, "{command}");
    }
    let ttl: i64 = other.cmd("TTL t").trim_start_matches(':').trim().parse().unwrap();
    assert!((998..=1000).contains(&ttl), "{ttl}");
    drop((c, other));
    server.shutdown().unwrap();
    let server = common::start(dir.path());
    let mut c = connect(&server);
    for (command, reply) in &expected {
        assert_eq!(&c.cmd(command), reply, "{command} after a restart");
    }
}

/// A queue holding a whole-keyspace command (KEYS, DBSIZE, SCAN ...) or writing more than one
/// batch may hold (two 20 MiB values: segments are 32 MiB) runs command by command, with the
/// same replies.
#[test]
fn exec_with_keyspace_commands_or_huge_values_still_runs_every_command() {
    let (_dir, server) = start();
    let mut c = connect(&server);
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.cmd("SET a 1"), "+QUEUED\r\n");
    assert_eq!(c.cmd("INCR a"), "+QUEUED\r\n");
    assert_eq!(c.cmd("DBSIZE"), "+QUEUED\r\n");
    assert_eq!(c.cmd("KEYS *"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), format!("*4\r\n{OK}{}{}{}", int(2), int(1), bulks(&["a"])));
    let big = vec![b'v'; 20 << 20];
    assert_eq!(c.cmd("MULTI"), OK);
    assert_eq!(c.call(&[&b"SET"[..], b"big1", &big]), "+QUEUED\r\n");
    assert_eq!(c.call(&[&b"SET"[..], b"big2", &big]), "+QUEUED\r\n");
    assert_eq!(c.cmd("STRLEN big1"), "+QUEUED\r\n");
    assert_eq!(c.cmd("INCR a"), "+QUEUED\r\n");
    assert_eq!(c.cmd("EXEC"), format!("*4\r\n{OK}{OK}{}{}", int(20 << 20), int(3)));
    assert_eq!(c.cmd("STRLEN big2"), int(20 << 20));
}

/// The top-level records of every segment file: (kind, key, inner record count of a batch).
fn records_on_disk(dir: &std::path::Path) -> Vec<(crowndb::format::RecordKind, Vec<u8>, u32)> {
    use crowndb::format::{decode_record, parse_segment_file_name, SEGMENT_HEADER_LEN};
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).and_then(parse_segment_file_name).is_some())
        .collect();
    files.sort();
    let mut records = Vec::new();
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let mut at = SEGMENT_HEADER_LEN as usize;
        // Records follow each other up to the zeroed space (or the footer) after the last one.
        while let Ok(record) = bytes.get(at..).map_or(Err(()), |rest| decode_record(rest).map_err(drop)) {
            records.push((record.header.kind, record.key.to_vec(), record.header.flags));
            at += record.header.record_len() as usize;
        }
    }
    records
}

/// With durability `always`, an EXEC of 20 writes is on disk when its reply comes, as one batch
/// envelope of 20 records: after a crash, all of them or none.
#[test]
fn an_exec_is_one_batch_envelope_on_disk() {
    use crowndb::format::RecordKind;
    let dir = tempfile::tempdir().unwrap();
    let server = common::start_with(dir.path(), |config| config.durability = crowndb::Durability::Always);
    let mut c = connect(&server);
    assert_eq!(c.cmd("SET before 1"), OK);
    assert_eq!(c.cmd("MULTI"), OK);
    for i in 0..19 {
        assert_eq!(c.cmd(&format!("SET key{i} value{i}")), "+QUEUED\r\n");
    }
    assert_eq!(c.cmd("INCR before"), "+QUEUED\r\n");
    assert_eq!(c.cmd("GET key3"), "+QUEUED\r\n");
    let reply = c.cmd("EXEC");
    assert!(reply.starts_with("*21\r\n+OK\r\n") && reply.ends_with(&format!("{}{}", int(2), bulk("value3"))), "{reply}");
    // Read while the server still runs: the reply came after the sync.
    let records = records_on_disk(dir.path());
    let batches: Vec<_> = records.iter().filter(|r| r.0 == RecordKind::Batch).collect();
    assert_eq!(batches.len(), 1, "{records:?}");
    assert_eq!(batches[0].2, 20, "inner records of the EXEC's batch");
    let puts: Vec<_> = records.iter().filter(|r| r.0 == RecordKind::Put).map(|r| r.1.clone()).collect();
    assert_eq!(puts, vec![b"before".to_vec()], "only the SET before MULTI is a record of its own");
    drop(c);
    server.shutdown().unwrap();
    let db = crowndb::Db::open(dir.path(), crowndb::Options { paranoid_open: true, ..crowndb::Options::default() }).unwrap();
    for i in 0..19 {
        assert_eq!(db.get(format!("key{i}").as_bytes()).unwrap(), Some(format!("value{i}").into_bytes()));
    }
    assert_eq!(db.get(b"before").unwrap(), Some(b"2".to_vec()));
}

/// EXEC reads its keys and writes its batch under the store's writer lock, so a memcached `incr`
/// cannot fall between a transaction's INCR reading the key and the batch writing it: Redis
/// transactions of two INCRs and memcached increments, all at once, lose nothing.
#[test]
fn memcached_writes_never_fall_inside_an_exec() {
    let (_dir, server) = start();
    let mut m = common::Client::connect(&server);
    assert_eq!(m.set("n", b"0"), "STORED");
    let redis_addr = server.redis_addr().unwrap();
    let memcached_addr = server.memcached_addr().unwrap();
    let mut threads = Vec::new();
    for _ in 0..2 {
        threads.push(std::thread::spawn(move || {
            let mut c = Resp::connect(redis_addr);
            for _ in 0..100 {
                assert_eq!(c.cmd("MULTI"), OK);
                assert_eq!(c.cmd("INCR n"), "+QUEUED\r\n");
                assert_eq!(c.cmd("INCR n"), "+QUEUED\r\n");
                let reply = c.cmd("EXEC");
                assert!(reply.starts_with("*2\r\n:"), "{reply}");
            }
        }));
        threads.push(std::thread::spawn(move || {
            let mut m = common::Client::connect_to(memcached_addr);
            for _ in 0..200 {
                let reply = m.call("incr n 1");
                assert!(reply.parse::<u64>().is_ok(), "{reply}");
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(connect(&server).cmd("GET n"), bulk("800"));
}
