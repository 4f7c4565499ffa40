//! Authentication of the memcached text protocol, as memcached 1.6 does it with `-Y <auth file>`.
//!
//! The auth file holds `username:password` lines. With one configured, a connection starts
//! unauthenticated and must first send a `set` whose value is `<username> <password>` (the key,
//! flags and exptime are ignored, nothing is stored):
//!
//! ```text
//! set auth 0 0 12\r\nalice s3cret\r\n   ->  STORED
//! ```
//!
//! Until then every other request gets `CLIENT_ERROR unauthenticated`; wrong credentials get
//! `CLIENT_ERROR authentication failure` and a value without a space `CLIENT_ERROR bad
//! authentication token format`, memcached's words. The connection stays open either way, as
//! in memcached. (One difference: `quit` closes the connection, where memcached answers it with
//! `CLIENT_ERROR unauthenticated`.)
//!
//! Passwords are compared in constant time and never logged.

use std::path::Path;

use subtle::{Choice, ConstantTimeEq};

use crate::error::ServerError;

/// What a login attempt gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Login {
    /// The credentials are in the file: `STORED`.
    Accepted,
    /// Unknown user or wrong password: `CLIENT_ERROR authentication failure`.
    Refused,
    /// No space between username and password: `CLIENT_ERROR bad authentication token format`.
    BadFormat,
}

/// The users of an auth file.
pub struct Credentials {
    users: Vec<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for Credentials {
    /// Never shows a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} users)", self.users.len())
    }
}

impl Credentials {
    /// Reads an auth file; errors name the file and, for a bad line, its number.
    pub fn load(path: &Path) -> Result<Credentials, ServerError> {
        let text =
            std::fs::read(path).map_err(|e| ServerError::Config(format!("reading the memcached auth file {}: {e}", path.display())))?;
        Credentials::parse(&text).map_err(|msg| ServerError::Config(format!("memcached auth file {}: {msg}", path.display())))
    }

    /// Parses `username:password` lines. Blank lines are skipped; a password may hold `:` and
    /// spaces (the login splits at the first space), a username neither.
    pub fn parse(text: &[u8]) -> Result<Credentials, String> {
        let mut users = Vec::new();
        for (n, line) in text.split(|&b| b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let number = n + 1;
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                return Err(format!("line {number} is not username:password (no ':' found)"));
            };
            let (user, password) = (&line[..colon], &line[colon + 1..]);
            if user.is_empty() || password.is_empty() {
                return Err(format!("line {number} has an empty username or password (expected username:password)"));
            }
            if user.iter().any(|b| b.is_ascii_whitespace()) {
                return Err(format!("line {number}: the username holds a space, so no client could send it"));
            }
            users.push((user.to_vec(), password.to_vec()));
        }
        if users.is_empty() {
            return Err("holds no username:password line, so no client could log in".into());
        }
        Ok(Credentials { users })
    }

    /// Checks a login token, `<username> <password>`. Every user is compared, each in constant
    /// time, so the time taken says nothing about which part matched (only, as with any
    /// comparison of this kind, whether the lengths were equal).
    pub fn check(&self, token: &[u8]) -> Login {
        let Some(space) = token.iter().position(|&b| b == b' ') else { return Login::BadFormat };
        let (user, password) = (&token[..space], &token[space + 1..]);
        let mut found = Choice::from(0);
        for (known_user, known_password) in &self.users {
            found |= known_user.as_slice().ct_eq(user) & known_password.as_slice().ct_eq(password);
        }
        if bool::from(found) {
            Login::Accepted
        } else {
            Login::Refused
        }
    }

    /// How many users the file holds.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file holds no user (never true of a loaded file).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let creds = Credentials::parse(b"alice:s3cret\r\n\nbob:pass:with colons and spaces\n").unwrap();
        assert_eq!(creds.len(), 2);
        assert_eq!(creds.check(b"alice s3cret"), Login::Accepted);
        assert_eq!(creds.check(b"bob pass:with colons and spaces"), Login::Accepted);
        assert_eq!(creds.check(b"alice s3cret "), Login::Refused);
        assert_eq!(creds.check(b"alice s3cre"), Login::Refused);
        assert_eq!(creds.check(b"bob s3cret"), Login::Refused);
        assert_eq!(creds.check(b"carol s3cret"), Login::Refused);
        assert_eq!(creds.check(b"alices3cret"), Login::BadFormat);
        assert_eq!(creds.check(b""), Login::BadFormat);
        assert!(!format!("{creds:?}").contains("s3cret"));
    }

    #[test]
    fn bad_files_name_the_line() {
        assert_eq!(Credentials::parse(b"alice:x\nbob\n").unwrap_err(), "line 2 is not username:password (no ':' found)");
        assert!(Credentials::parse(b"alice:\n").unwrap_err().contains("line 1 has an empty"));
        assert!(Credentials::parse(b":pw\n").unwrap_err().contains("line 1 has an empty"));
        assert!(Credentials::parse(b"\n\nal ice:pw\n").unwrap_err().contains("line 3"));
        assert!(Credentials::parse(b"\n \n").unwrap_err().contains("no username:password line"));
    }
}
