//! Redis 7's error replies, word for word, and argument parsing that fails with them.
//!
//! A command returns `Result<Frame, Frame>`: `Err` is an error reply, so parsing helpers can be
//! chained with `?`. Errors never close the connection (protocol errors do, in `resp/`).

use bytes::Bytes;

use crate::resp::Frame;

/// A command's outcome: a reply, or an error reply.
pub type Reply = Result<Frame, Frame>;

/// The longest key the store accepts (`crowndb::Options::max_key_size`, at most 65535).
pub const MAX_KEY_LEN: usize = 65_535;

pub fn syntax_error() -> Frame {
    Frame::err("syntax error")
}

pub fn not_integer() -> Frame {
    Frame::err("value is not an integer or out of range")
}

pub fn not_float() -> Frame {
    Frame::err("value is not a valid float")
}

/// `wrong number of arguments for 'get' command` (`name` is the lower-case full name,
/// `client|setname` for a subcommand).
pub fn wrong_arity(name: &str) -> Frame {
    Frame::err(format!("wrong number of arguments for '{name}' command"))
}

pub fn invalid_expire(name: &str) -> Frame {
    Frame::err(format!("invalid expire time in '{name}' command"))
}

pub fn too_large() -> Frame {
    Frame::err("string exceeds maximum allowed size (proto-max-bulk-len)")
}

pub fn noauth() -> Frame {
    Frame::error("NOAUTH Authentication required.")
}

pub fn wrongpass() -> Frame {
    Frame::error("WRONGPASS invalid username-password pair or user is disabled.")
}

/// `unknown subcommand 'x'. Try CLIENT HELP.`
pub fn unknown_subcommand(command: &[u8], sub: &[u8]) -> Frame {
    let sub = &sub[..sub.len().min(128)];
    let mut text = b"ERR unknown subcommand '".to_vec();
    text.extend_from_slice(sub);
    text.extend_from_slice(b"'. Try ");
    text.extend(command.iter().map(u8::to_ascii_uppercase));
    text.extend_from_slice(b" HELP.");
    Frame::Error(text.into())
}

/// Redis's reply to an unknown command: the name (at most 128 bytes), then the first arguments,
/// each quoted and followed by a space, while the list is under 128 bytes. Redis formats them
/// with C's `%.*s`, so the name and each argument stop at a NUL byte.
pub fn unknown_command(args: &[Bytes]) -> Frame {
    let name = cstr(&args[0]);
    let name = &name[..name.len().min(128)];
    let mut list: Vec<u8> = Vec::new();
    for arg in &args[1..] {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        let arg = cstr(arg);
        list.push(b'\'');
        list.extend_from_slice(&arg[..arg.len().min(room)]);
        list.extend_from_slice(b"' ");
    }
    let mut text = b"ERR unknown command '".to_vec();
    text.extend_from_slice(name);
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend_from_slice(&list);
    Frame::Error(text.into())
}

/// An argument as C code sees it: up to its first NUL byte (Redis compares options with
/// `strcasecmp` and prints arguments with `%s`).
pub fn cstr(arg: &[u8]) -> &[u8] {
    arg.iter().position(|&b| b == 0).map_or(arg, |i| &arg[..i])
}

/// `WRONGTYPE Operation against a key holding the wrong kind of value`.
pub fn wrong_type() -> Frame {
    Frame::error(crowndb::Error::WrongType.to_string())
}

/// A store failure as a reply: WRONGTYPE for a key of another type (Redis's own error code),
/// a clear sentence for a member too large for a collection page, else a generic error (the
/// message names the file or limit involved).
pub fn engine(err: crowndb::Error) -> Frame {
    match err {
        crowndb::Error::WrongType => wrong_type(),
        crowndb::Error::TooLarge { what: "collection member", size, limit } => Frame::err(format!(
            "member of {size} bytes (with its value) is too large: CrownDB keeps members of hashes and sets up to {limit} bytes"
        )),
        err => {
            tracing::warn!("store error: {err}");
            Frame::err(err.to_string())
        }
    }
}

/// A key longer than the store allows.
pub fn key_too_long(len: usize) -> Frame {
    Frame::err(format!("key of {len} bytes is too long: CrownDB keys are at most {MAX_KEY_LEN} bytes"))
}

/// Checks that a key can be written.
pub fn writable_key(key: &[u8]) -> Result<&[u8], Frame> {
    if key.len() > MAX_KEY_LEN {
        return Err(key_too_long(key.len()));
    }
    Ok(key)
}

/// An integer argument, with Redis's strict syntax (`string2ll`).
pub fn parse_i64(arg: &[u8]) -> Result<i64, Frame> {
    crate::resp::parse_integer(arg).ok_or_else(not_integer)
}

/// Whether `arg` is `word`, ignoring ASCII case, as Redis's `strcasecmp` compares: up to the
/// first NUL byte (`EX\0junk` is `EX`).
pub fn is(arg: &[u8], word: &str) -> bool {
    cstr(arg).eq_ignore_ascii_case(word.as_bytes())
}

/// An argument as text for messages (lossy).
pub fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(frame: Frame) -> String {
        match frame {
            Frame::Error(text) => String::from_utf8_lossy(&text).into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_command_lists_arguments_as_redis() {
        let args = |list: &[&str]| list.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect::<Vec<_>>();
        assert_eq!(line(unknown_command(&args(&["foo"]))), "ERR unknown command 'foo', with args beginning with: ");
        assert_eq!(line(unknown_command(&args(&["foo", "a", "b"]))), "ERR unknown command 'foo', with args beginning with: 'a' 'b' ");
        let long = "x".repeat(300);
        let reply = line(unknown_command(&args(&["foo", &long, "next"])));
        assert_eq!(reply, format!("ERR unknown command 'foo', with args beginning with: '{}' ", "x".repeat(128)));
        let reply = line(unknown_command(&args(&["fo\0o", "bin\0arg", "b"])));
        assert_eq!(reply, "ERR unknown command 'fo', with args beginning with: 'bin' 'b' ");
    }
}
