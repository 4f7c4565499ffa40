//! `OBJECT ENCODING | REFCOUNT | IDLETIME | FREQ | HELP`. Encodings are named as Redis 7.0
//! reports them: strings `int` / `embstr` / `raw` by their text; a hash `listpack`, a set
//! `intset`, until an insertion converts it by Redis's rules (recorded in the head, never
//! undone: a paged one always is), then `hashtable` (Redis 7.0 has no listpack sets).

use bytes::Bytes;
use crowndb::{is_intset, parse_canonical_i64, CollectionType, KeyState, Layout};

use crate::redis::dispatch::{sub_arity, Ctx};
use crate::redis::reply::{self, Reply};
use crate::resp::Frame;

pub fn object(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let sub = reply::text(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "help" => {
            sub_arity(args, 2, "object|help")?;
            let lines = [
                "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>",
                "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.",
                "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified",
                "    <key>.",
                "HELP",
                "    Prints this help.",
            ];
            Ok(Frame::Array(lines.iter().map(|l| Frame::simple(*l)).collect()))
        }
        "encoding" | "refcount" | "idletime" | "freq" => {
            sub_arity(args, 3, &format!("object|{sub}"))?;
            let key = &args[2];
            if key.len() > reply::MAX_KEY_LEN {
                return Ok(Frame::Null);
            }
            let state = ctx.read(|r| r.key_state(key))?;
            let encoding = match state {
                KeyState::Absent => return Ok(Frame::Null),
                KeyState::Other => match ctx.entry(key)? {
                    None => return Ok(Frame::Null),
                    Some(e) if e.value.len() <= 20 && parse_canonical_i64(&e.value).is_some() => "int",
                    Some(e) if e.value.len() <= 44 => "embstr",
                    Some(_) => "raw",
                },
                // Redis's encoding is history: converted on insertion, never back (the head's
                // `converted` bit), kept by COPY.
                KeyState::Collection { head, .. } if head.converted => "hashtable",
                KeyState::Collection { head, .. } => match (head.kind, &head.layout) {
                    (CollectionType::Hash, Layout::Inline(_)) => "listpack",
                    (CollectionType::Set, Layout::Inline(members)) if is_intset(members) => "intset",
                    _ => "hashtable",
                },
            };
            match sub.as_str() {
                "encoding" => Ok(Frame::bulk(encoding)),
                "refcount" => Ok(Frame::Integer(1)),
                "idletime" => Ok(Frame::Integer(0)),
                _ => Err(Frame::err(
                    "An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
                )),
            }
        }
        _ => Err(reply::unknown_subcommand(&args[0], &args[1])),
    }
}
