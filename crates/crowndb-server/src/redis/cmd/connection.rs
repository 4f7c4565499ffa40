//! Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, CLIENT, RESET.

use bytes::Bytes;

use crate::redis::client::valid_attr;
use crate::redis::dispatch::{sub_arity, Ctx};
use crate::redis::reply::{self, is, parse_i64, Reply};
use crate::redis::REDIS_VERSION;
use crate::resp::{Frame, Protocol};

pub fn ping(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    match args.len() {
        1 => Ok(Frame::simple("PONG")),
        2 => Ok(Frame::Bulk(args[1].clone())),
        _ => Err(reply::wrong_arity("ping")),
    }
}

pub fn echo(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    Ok(Frame::Bulk(args[1].clone()))
}

pub fn quit(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    ctx.client.close_after_reply = true;
    Ok(Frame::ok())
}

/// Whether `password` (for user `user`, `default` if none) is right. With no password
/// configured, the default user takes any password, as Redis's `nopass` default user does.
fn check_password(ctx: &Ctx, user: Option<&[u8]>, password: &[u8]) -> bool {
    if user.is_some_and(|u| u != b"default") {
        return false;
    }
    match ctx.shared.settings().requirepass {
        None => true,
        Some(expected) => constant_time_eq(&expected, password),
    }
}

/// Compares without an early exit, so the time taken says nothing about the password.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn auth(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let (user, password) = match args.len() {
        2 => (None, &args[1]),
        3 => (Some(&args[1][..]), &args[2]),
        _ => return Err(reply::syntax_error()),
    };
    if user.is_none() && ctx.shared.settings().requirepass.is_none() {
        return Err(Frame::err(
            "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ));
    }
    if check_password(ctx, user, password) {
        ctx.client.authenticated = true;
        Ok(Frame::ok())
    } else {
        Err(reply::wrongpass())
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
pub fn hello(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let mut protocol = None;
    let mut next = 1;
    if args.len() >= 2 {
        let version = reply::parse_i64(&args[1]).map_err(|_| Frame::err("Protocol version is not an integer or out of range"))?;
        protocol = match version {
            2 => Some(Protocol::Resp2),
            3 => Some(Protocol::Resp3),
            _ => return Err(Frame::error("NOPROTO unsupported protocol version")),
        };
        next = 2;
    }
    let mut auth = None;
    let mut name = None;
    while next < args.len() {
        let more = args.len() - next - 1;
        if is(&args[next], "AUTH") && more >= 2 {
            auth = Some((&args[next + 1], &args[next + 2]));
            next += 3;
        } else if is(&args[next], "SETNAME") && more >= 1 {
            name = Some(&args[next + 1]);
            next += 2;
        } else {
            let mut text = b"ERR Syntax error in HELLO option '".to_vec();
            text.extend_from_slice(&args[next]);
            text.push(b'\'');
            return Err(Frame::Error(text.into()));
        }
    }
    if let Some((user, password)) = auth {
        if !check_password(ctx, Some(user), password) {
            return Err(reply::wrongpass());
        }
        ctx.client.authenticated = true;
    }
    if !ctx.client.authenticated {
        return Err(Frame::error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> \
             option can be used to authenticate the client and select the RESP protocol version at the same time",
        ));
    }
    if let Some(name) = name {
        if !valid_attr(name) {
            return Err(Frame::err("Client names cannot contain spaces, newlines or special characters."));
        }
        ctx.client.with_info(|info| info.name = name.to_vec());
    }
    if let Some(protocol) = protocol {
        ctx.client.protocol = protocol;
        ctx.client.with_info(|info| info.resp = if protocol == Protocol::Resp3 { 3 } else { 2 });
    }
    let proto = if ctx.client.protocol == Protocol::Resp3 { 3 } else { 2 };
    Ok(Frame::Map(vec![
        (Frame::bulk("server"), Frame::bulk("redis")),
        (Frame::bulk("version"), Frame::bulk(REDIS_VERSION)),
        (Frame::bulk("proto"), Frame::Integer(proto)),
        (Frame::bulk("id"), Frame::Integer(ctx.client.id as i64)),
        (Frame::bulk("mode"), Frame::bulk("standalone")),
        (Frame::bulk("role"), Frame::bulk("master")),
        (Frame::bulk("modules"), Frame::Array(Vec::new())),
    ]))
}

/// Only database 0 exists.
pub fn select(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let index = parse_i64(&args[1])?;
    if i32::try_from(index).is_err() {
        return Err(reply::not_integer());
    }
    if index != 0 {
        return Err(Frame::err("DB index is out of range"));
    }
    Ok(Frame::ok())
}

/// Back to a new connection's state: RESP2, no name, authenticated only if no password is set.
pub fn reset(ctx: &mut Ctx, _args: &[Bytes]) -> Reply {
    ctx.client.protocol = Protocol::Resp2;
    ctx.client.authenticated = ctx.shared.settings().requirepass.is_none();
    ctx.client.multi = None;
    ctx.client.multi_failed = false;
    ctx.client.watched.clear();
    ctx.client.with_info(|info| {
        info.name.clear();
        info.resp = 2;
    });
    Ok(Frame::simple("RESET"))
}

/// CLIENT ID / GETNAME / SETNAME / INFO / LIST / SETINFO / NO-EVICT / NO-TOUCH / REPLY / HELP.
pub fn client(ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    if sub.len() <= 16 && sub.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
        // CLIENT LIST shows the subcommand, as Redis does (`cmd=client|list`).
        ctx.client.with_info(|info| info.last_command = format!("client|{sub}"));
    }
    match sub.as_str() {
        "id" => {
            sub_arity(args, 2, "client|id")?;
            Ok(Frame::Integer(ctx.client.id as i64))
        }
        "getname" => {
            sub_arity(args, 2, "client|getname")?;
            let name = ctx.client.with_info(|info| info.name.clone());
            Ok(if name.is_empty() { Frame::Null } else { Frame::bulk(name) })
        }
        "setname" => {
            sub_arity(args, 3, "client|setname")?;
            if !valid_attr(&args[2]) {
                return Err(Frame::err("Client names cannot contain spaces, newlines or special characters."));
            }
            ctx.client.with_info(|info| info.name = args[2].to_vec());
            Ok(Frame::ok())
        }
        "setinfo" => {
            sub_arity(args, 4, "client|setinfo")?;
            let field = if is(&args[2], "lib-name") {
                "lib-name"
            } else if is(&args[2], "lib-ver") {
                "lib-ver"
            } else {
                return Err(Frame::err(format!("Unrecognized option '{}'", reply::text(&args[2]))));
            };
            if !valid_attr(&args[3]) {
                return Err(Frame::err(format!("{field} cannot contain spaces, newlines or special characters.")));
            }
            ctx.client.with_info(|info| match field {
                "lib-name" => info.lib_name = args[3].to_vec(),
                _ => info.lib_ver = args[3].to_vec(),
            });
            Ok(Frame::ok())
        }
        "info" => {
            sub_arity(args, 2, "client|info")?;
            let now = std::time::Instant::now();
            let mut line = ctx.client.with_info(|info| info.line(now));
            line.push(b'\n');
            Ok(Frame::verbatim_text(line))
        }
        "list" => {
            let now = std::time::Instant::now();
            let mut ids = None;
            if args.len() > 2 {
                if args.len() >= 4 && is(&args[2], "ID") {
                    let mut wanted = Vec::new();
                    for arg in &args[3..] {
                        match parse_i64(arg) {
                            Ok(id) if id > 0 => wanted.push(id as u64),
                            _ => return Err(Frame::err("Invalid client ID")),
                        }
                    }
                    ids = Some(wanted);
                } else if args.len() == 4 && is(&args[2], "TYPE") {
                    if !is(&args[3], "normal") {
                        return Ok(Frame::verbatim_text(""));
                    }
                } else {
                    return Err(reply::syntax_error());
                }
            }
            let mut text = Vec::new();
            for info in ctx.shared.clients() {
                let info = info.lock().unwrap_or_else(|e| e.into_inner());
                if ids.as_ref().is_some_and(|ids| !ids.contains(&info.id)) {
                    continue;
                }
                text.extend_from_slice(&info.line(now));
                text.push(b'\n');
            }
            Ok(Frame::verbatim_text(text))
        }
        "no-evict" | "no-touch" => {
            sub_arity(args, 3, if sub == "no-evict" { "client|no-evict" } else { "client|no-touch" })?;
            if is(&args[2], "on") || is(&args[2], "off") {
                Ok(Frame::ok())
            } else {
                Err(reply::syntax_error())
            }
        }
        "help" => {
            sub_arity(args, 2, "client|help")?;
            let lines = [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "LIST [TYPE normal] [ID <id> [<id> ...]]",
                "    Return information about client connections.",
                "SETINFO <option> <value>",
                "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "NO-EVICT (ON|OFF), NO-TOUCH (ON|OFF)",
                "    Accepted; CrownDB never evicts and keeps no access times.",
                "HELP",
                "    Print this help.",
            ];
            Ok(Frame::Array(lines.iter().map(|l| Frame::simple(*l)).collect()))
        }
        _ => Err(reply::unknown_subcommand(&args[0], &args[1])),
    }
}
