//! COMMAND, COUNT, INFO, DOCS, LIST: what redis-cli (hints) and client libraries read.

use bytes::Bytes;

use crate::redis::dispatch::{count, lookup, sub_arity, Ctx, Spec, COMMANDS};
use crate::redis::reply::{self, Reply};
use crate::resp::Frame;

/// Redis 7's COMMAND INFO entry: name, arity, flags, first key, last key, step, ACL
/// categories, tips, key specs, subcommands.
fn info(spec: &Spec) -> Frame {
    let mut categories = vec![Frame::simple(format!("@{}", if spec.group == "generic" { "keyspace" } else { spec.group }))];
    if spec.flags.contains(&"write") {
        categories.push(Frame::simple("@write"));
    } else if spec.flags.contains(&"readonly") {
        categories.push(Frame::simple("@read"));
    }
    if spec.flags.contains(&"fast") {
        categories.push(Frame::simple("@fast"));
    } else {
        categories.push(Frame::simple("@slow"));
    }
    Frame::Array(vec![
        Frame::bulk(spec.name),
        Frame::Integer(i64::from(spec.arity)),
        Frame::Set(spec.flags.iter().map(|f| Frame::simple(*f)).collect()),
        Frame::Integer(i64::from(spec.keys.0)),
        Frame::Integer(i64::from(spec.keys.1)),
        Frame::Integer(i64::from(spec.keys.2)),
        Frame::Set(categories),
        Frame::Array(Vec::new()),
        Frame::Array(Vec::new()),
        Frame::Array(Vec::new()),
    ])
}

fn docs(spec: &Spec) -> Frame {
    Frame::Map(vec![
        (Frame::bulk("summary"), Frame::bulk(spec.summary)),
        (Frame::bulk("since"), Frame::bulk(spec.since)),
        (Frame::bulk("group"), Frame::bulk(spec.group)),
    ])
}

pub fn command(_ctx: &mut Ctx, args: &[Bytes]) -> Reply {
    if args.len() == 1 {
        return Ok(Frame::Array(COMMANDS.iter().map(info).collect()));
    }
    let sub = reply::text(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "count" => {
            sub_arity(args, 2, "command|count")?;
            Ok(Frame::Integer(count() as i64))
        }
        "info" => {
            if args.len() == 2 {
                return Ok(Frame::Array(COMMANDS.iter().map(info).collect()));
            }
            Ok(Frame::Array(args[2..].iter().map(|name| lookup(name).map_or(Frame::NullArray, info)).collect()))
        }
        "docs" => {
            let specs: Vec<&Spec> =
                if args.len() == 2 { COMMANDS.iter().collect() } else { args[2..].iter().filter_map(|n| lookup(n)).collect() };
            Ok(Frame::Map(specs.into_iter().map(|spec| (Frame::bulk(spec.name), docs(spec))).collect()))
        }
        "list" => Ok(Frame::Array(COMMANDS.iter().map(|spec| Frame::bulk(spec.name)).collect())),
        "help" => Ok(Frame::Array(
            ["COMMAND", "COUNT", "DOCS [<command-name> ...]", "INFO [<command-name> ...]", "LIST", "HELP"]
                .iter()
                .map(|l| Frame::simple(*l))
                .collect(),
        )),
        _ => Err(reply::unknown_subcommand(&args[0], &args[1])),
    }
}
