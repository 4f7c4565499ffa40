//! Commands the harness does not send, each for a stated reason: (a) a CrownDB bug listed in
//! docs/differential.md, to be removed once fixed; or (b) an intended difference listed in
//! docs/protocols.md. Entries are as narrow as the difference: a command shape, not a whole
//! command, unless the command is not implemented at all.
//!
//! `crowndb-torture differential --no-exclusions` sends everything, to see which still differ.

/// Why a case is left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A CrownDB bug, listed in docs/differential.md.
    Bug,
    /// An intended difference, listed in docs/protocols.md.
    Intended,
}

pub struct Exclusion {
    /// A short name, reported with the number of commands it skipped.
    pub id: &'static str,
    pub class: Class,
    /// Where the difference is written down.
    pub docs: &'static str,
    /// Whether the command is one to skip.
    pub applies: fn(&[Vec<u8>]) -> bool,
}

fn name_is(args: &[Vec<u8>], names: &[&str]) -> bool {
    args.first().is_some_and(|n| names.iter().any(|x| n.eq_ignore_ascii_case(x.as_bytes())))
}

#[allow(dead_code)]
fn has_arg(args: &[Vec<u8>], word: &str) -> bool {
    args.iter().skip(1).any(|a| a.eq_ignore_ascii_case(word.as_bytes()))
}

/// Every exclusion, in the order of the docs.
pub static EXCLUSIONS: &[Exclusion] = &[
    // (b) Not implemented, or replies that are each server's own: docs/protocols.md lists them.
    Exclusion {
        id: "server-identity",
        class: Class::Intended,
        docs: "docs/protocols.md, Replies that differ from Redis (INFO, CONFIG, COMMAND, CLIENT, TIME, LASTSAVE, RANDOMKEY)",
        applies: |args| name_is(args, &["INFO", "CONFIG", "COMMAND", "CLIENT", "TIME", "LASTSAVE", "RANDOMKEY", "SAVE", "BGSAVE"]),
    },
    Exclusion {
        id: "ends-the-connection",
        class: Class::Intended,
        docs: "not a difference: QUIT and SHUTDOWN end the connection or the server",
        applies: |args| name_is(args, &["QUIT", "SHUTDOWN"]),
    },
];

/// The exclusion that skips `args`, if any.
pub fn excluded(args: &[Vec<u8>]) -> Option<&'static Exclusion> {
    EXCLUSIONS.iter().find(|e| (e.applies)(args))
}
