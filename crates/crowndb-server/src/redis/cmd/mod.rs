//! The commands, one file per group. Each function takes the request's arguments (name first,
//! arity already checked by the dispatcher) and returns the reply.

pub mod collections;
pub mod command;
pub mod connection;
pub mod expire;
pub mod hash;
pub mod keyspace;
pub mod object;
pub mod server;
pub mod set;
pub mod strings;
pub mod transaction;

use crate::redis::reply;
use crate::resp::Frame;
use crate::store::now_ms;

/// How an expiry argument counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpireArg {
    /// EX, SETEX, EXPIRE: seconds from now.
    Seconds,
    /// PX, PSETEX, PEXPIRE: milliseconds from now.
    Millis,
    /// EXAT, EXPIREAT: a Unix time in seconds.
    UnixSeconds,
    /// PXAT, PEXPIREAT: a Unix time in milliseconds.
    UnixMillis,
}

impl ExpireArg {
    /// The deadline in Unix milliseconds (may be 0 or negative: already past), with Redis's
    /// overflow checks (`invalid expire time in '<command>' command`).
    pub fn deadline(self, value: i64, command: &str) -> Result<i64, Frame> {
        let invalid = || reply::invalid_expire(command);
        let ms = match self {
            ExpireArg::Seconds | ExpireArg::UnixSeconds => value.checked_mul(1000).ok_or_else(invalid)?,
            ExpireArg::Millis | ExpireArg::UnixMillis => value,
        };
        match self {
            ExpireArg::Seconds | ExpireArg::Millis => ms.checked_add(now_ms() as i64).ok_or_else(invalid),
            ExpireArg::UnixSeconds | ExpireArg::UnixMillis => Ok(ms),
        }
    }

    /// A SET / SETEX / GETEX expiry: must be positive, then as [`ExpireArg::deadline`].
    pub fn positive_deadline(self, arg: &[u8], command: &str) -> Result<u64, Frame> {
        let value = reply::parse_i64(arg)?;
        if value <= 0 {
            return Err(reply::invalid_expire(command));
        }
        let at = self.deadline(value, command)?;
        Ok(at.max(1) as u64)
    }
}
