//! Damaged dump files: the one file kind CrownDB writes outside a store. A store with small,
//! compressible and streamed (multi-piece) values, a paged hash and a set is dumped with
//! `crowndb dump`; each trial
//! flips a random bit of a copy of the dump, or cuts it at a random offset, and requires:
//!
//! 1. `crowndb load --verify` refuses it: exit code 4 and a message naming the file and
//!    "damaged dump at offset" (every byte of a dump is covered by an entry checksum or the
//!    whole-file checksum, so there is no damage it may miss);
//! 2. `crowndb load` into an empty store stops with exit code 4, and what it loaded before the
//!    damage holds only true values: every key present has exactly its dumped value (a
//!    streamed value cut by the damage is absent, never a prefix; a collection is whole
//!    or absent, never some of its members);
//! 3. the store it loaded into passes `crowndb check`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crowndb::{Collection, CollectionLimits, CollectionType, Db, Options, WriteOptions};

use crate::rng::Rng;
use crate::values::ValueId;

/// Figures of a dump damage run.
#[derive(Debug, Default)]
pub struct DumpDamageReport {
    pub trials: u64,
    pub bit_flips: u64,
    pub truncations: u64,
    pub dump_bytes: u64,
    pub keys_in_dump: u64,
    /// Damage refused by `load --verify` (must equal `trials`).
    pub refused_by_verify: u64,
    /// Keys loaded before the damage stopped the load, over all trials; all verified.
    pub keys_loaded_before_damage: u64,
    /// Loads that started a streamed value the damage cut short (left absent).
    pub cut_streams: u64,
    /// Collections loaded whole before the damage, over all trials.
    pub collections_loaded: u64,
}

impl std::fmt::Display for DumpDamageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} trials on a {}-byte dump of {} keys ({} bit flips, {} truncations): refused by load --verify {} times; \
             loads stopped at the damage with {} keys loaded before it, all with their dumped values; \
             {} streamed values cut by the damage left absent; {} collections loaded whole; 0 wrong values",
            self.trials,
            self.dump_bytes,
            self.keys_in_dump,
            self.bit_flips,
            self.truncations,
            self.refused_by_verify,
            self.keys_loaded_before_damage,
            self.cut_streams,
            self.collections_loaded
        )
    }
}

/// Members of a collection, sorted: (member, value; empty for sets).
type MemberList = Vec<(Vec<u8>, Vec<u8>)>;
/// A collection's type and members.
type Members = (CollectionType, MemberList);
/// Every string key's value, and every collection, of the store to dump.
type Expected = (BTreeMap<Vec<u8>, Vec<u8>>, BTreeMap<Vec<u8>, Members>);

/// Builds the store to dump; returns every string key's value, and every collection.
fn build_store(dir: &Path, seed: u64) -> Result<Expected, String> {
    let options = Options { background_compaction: false, ..Options::default() };
    let db = Db::open(dir, options).map_err(|e| format!("creating the store to dump: {e}"))?;
    let mut rng = Rng::new(seed);
    let mut expected = BTreeMap::new();
    for i in 0..300u64 {
        let key = format!("key{i:04}").into_bytes();
        let value = if i % 4 == 0 {
            format!("compressible value {i} ").repeat(rng.range(1, 60) as usize).into_bytes()
        } else {
            ValueId { op: i, slot: 1, len: rng.range(0, 4000) }.bytes()
        };
        let opts = WriteOptions { flags: (i % 5) as u32, ..WriteOptions::default() };
        db.put_opt(&key, &value, &opts).map_err(|e| e.to_string())?;
        expected.insert(key, value);
    }
    // Values over the dump's piece size (1 MiB) are written as a stream of pieces.
    for (i, len) in [(0u64, 1_500_000u64), (1, 3_200_000)] {
        let key = format!("large{i}").into_bytes();
        let value = ValueId { op: 10_000 + i, slot: 2, len }.bytes();
        db.put(&key, &value).map_err(|e| e.to_string())?;
        expected.insert(key, value);
    }
    // A hash paged over many small pages, and a set (tiny limits make both paged).
    db.set_collection_limits(CollectionLimits {
        hash_max_listpack_entries: 8,
        set_max_intset_entries: 8,
        page_size: 512,
        ..Default::default()
    });
    let mut collections = BTreeMap::new();
    for (key, kind, n) in [(&b"hash"[..], CollectionType::Hash, 600u64), (&b"set"[..], CollectionType::Set, 300)] {
        let members: MemberList = (0..n)
            .map(|i| {
                let value = if kind == CollectionType::Hash {
                    ValueId { op: 20_000 + i, slot: 3, len: rng.range(0, 40) }.bytes()
                } else {
                    Vec::new()
                };
                (format!("member{i}").into_bytes(), value)
            })
            .collect();
        for chunk in members.chunks(50) {
            db.transaction(&WriteOptions::default(), |txn| {
                let mut c = Collection::open_or_create(txn, key, kind)?;
                for (m, v) in chunk {
                    c.insert(txn, m, v)?;
                }
                c.commit(txn)
            })
            .map_err(|e| e.to_string())?;
        }
        let mut sorted = members;
        sorted.sort();
        collections.insert(key.to_vec(), (kind, sorted));
    }
    db.close().map_err(|e| e.to_string())?;
    Ok((expected, collections))
}

/// The members of `key` if it holds a collection of type `kind`, sorted; `None` if absent.
fn read_collection(db: &Db, key: &[u8], kind: CollectionType) -> crowndb::Result<Option<MemberList>> {
    db.read(|view| match Collection::open(view, key, kind)? {
        Some(mut c) => {
            let mut all = c.all(view)?;
            all.sort();
            Ok(Some(all))
        }
        None => Ok(None),
    })
}

fn run(bin: &Path, args: &[&std::ffi::OsStr]) -> Result<Output, String> {
    Command::new(bin).args(args).output().map_err(|e| format!("running {}: {e}", bin.display()))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Runs `trials` damaged-dump trials in `dir` with the `crowndb` binary `bin`.
pub fn run_dump_damage(bin: &Path, dir: &Path, trials: u64, seed: u64) -> Result<DumpDamageReport, String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let source = dir.join("source");
    let (expected, collections) = build_store(&source, seed)?;
    let dump = dir.join("pristine.crowndump");
    let out = run(bin, &["dump".as_ref(), "--data-dir".as_ref(), source.as_os_str(), dump.as_os_str()])?;
    if !out.status.success() {
        return Err(format!("crowndb dump failed: {}", text(&out)));
    }
    let pristine = std::fs::read(&dump).map_err(|e| e.to_string())?;
    let mut report = DumpDamageReport {
        dump_bytes: pristine.len() as u64,
        keys_in_dump: (expected.len() + collections.len()) as u64,
        ..Default::default()
    };
    // Where each streamed value's bytes lie in the dump, to tell when damage cut one.
    let streams: Vec<(Vec<u8>, std::ops::Range<usize>)> = expected
        .iter()
        .filter(|(_, v)| v.len() > 1 << 20)
        .filter_map(|(k, v)| {
            let start = pristine.windows(64).position(|w| w == &v[..64])?;
            let end = pristine.windows(64).position(|w| w == &v[v.len() - 64..])? + 64;
            Some((k.clone(), start..end))
        })
        .collect();
    if streams.len() != 2 {
        return Err(format!("expected 2 streamed values in the dump, found {}", streams.len()));
    }
    // Where the collections' members lie in the dump.
    let members = {
        let first = pristine.windows(7).position(|w| w == b"member0").ok_or("no collection members in the dump")?;
        let last = pristine.windows(6).rposition(|w| w == b"member").expect("found above");
        first..last + 6
    };
    let mut rng = Rng::new(seed ^ 0xD0_3D);
    let damaged: PathBuf = dir.join("damaged.crowndump");
    let target = dir.join("loaded");
    for trial in 0..trials {
        let mut bytes = pristine.clone();
        // The streamed values are most of the dump's bytes: half the trials damage the rest,
        // and a quarter of those the collections' members (a few KiB of the dump).
        let avoid_streams = rng.chance(50);
        let offset = loop {
            if avoid_streams && rng.chance(25) {
                break members.start + rng.below(members.len() as u64) as usize;
            }
            let at = rng.below(bytes.len() as u64) as usize;
            if !avoid_streams || !streams.iter().any(|(_, span)| span.contains(&at)) {
                break at;
            }
        };
        let what = if rng.chance(70) {
            let bit = rng.below(8);
            bytes[offset] ^= 1 << bit;
            report.bit_flips += 1;
            format!("bit {bit} of byte {offset} flipped")
        } else {
            bytes.truncate(offset);
            report.truncations += 1;
            format!("cut at {offset}")
        };
        std::fs::write(&damaged, &bytes).map_err(|e| e.to_string())?;
        let context = |e: String| format!("trial {trial} ({what}): {e}");

        let out = run(bin, &["load".as_ref(), "--verify".as_ref(), damaged.as_os_str()])?;
        let said = text(&out);
        if out.status.code() != Some(4) || !said.contains("damaged dump at offset") || !said.contains("damaged.crowndump") {
            return Err(context(format!("load --verify did not refuse the damaged dump ({}): {said}", out.status)));
        }
        report.refused_by_verify += 1;

        let _ = std::fs::remove_dir_all(&target);
        let out = run(bin, &["load".as_ref(), "--data-dir".as_ref(), target.as_os_str(), damaged.as_os_str()])?;
        if out.status.code() != Some(4) {
            return Err(context(format!("load of the damaged dump did not stop with exit code 4 ({}): {}", out.status, text(&out))));
        }
        if target.exists() {
            let db = Db::open(&target, Options { paranoid_open: true, ..Options::default() })
                .map_err(|e| context(format!("opening what was loaded: {e}")))?;
            for (key, value) in &expected {
                match db.get(key).map_err(|e| context(format!("reading what was loaded: {e}")))? {
                    Some(v) if v == *value => report.keys_loaded_before_damage += 1,
                    Some(_) => return Err(context(format!("key {} loaded with a wrong value", String::from_utf8_lossy(key)))),
                    None => {
                        if streams.iter().any(|(k, span)| k == key && span.contains(&offset)) {
                            report.cut_streams += 1;
                        }
                    }
                }
            }
            for (key, (kind, members)) in &collections {
                match read_collection(&db, key, *kind).map_err(|e| context(format!("reading a loaded collection: {e}")))? {
                    Some(m) if m == *members => report.collections_loaded += 1,
                    Some(m) => {
                        return Err(context(format!(
                            "collection {} loaded with {} members, not its {}",
                            String::from_utf8_lossy(key),
                            m.len(),
                            members.len()
                        )))
                    }
                    None => {}
                }
            }
            for item in db.iter() {
                let (key, _) = item.map_err(|e| context(format!("iterating what was loaded: {e}")))?;
                if !expected.contains_key(&key) && !collections.contains_key(&key) {
                    return Err(context(format!("key {} loaded but never dumped", String::from_utf8_lossy(&key))));
                }
            }
            db.close().map_err(|e| context(e.to_string()))?;
            let out = run(bin, &["check".as_ref(), "--data-dir".as_ref(), target.as_os_str()])?;
            if !out.status.success() {
                return Err(context(format!("crowndb check on the loaded store failed: {}", text(&out))));
            }
        }
        report.trials += 1;
    }
    Ok(report)
}
