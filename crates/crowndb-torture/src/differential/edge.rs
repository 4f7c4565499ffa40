//! The hand-written edge cases: a text file of commands, one a line, in redis-cli's quoting.
//!
//! ```text
//! # a comment
//! ## section name            (a new section: fresh connections, both servers flushed)
//! SET k "a b\x00c"           (double quotes: \x hex, \n \r \t \\ \" escapes)
//! SET 'single quoted' v      (single quotes: literal)
//! SET {a*70000} v            (a token {text*N}: text repeated N times)
//! [some-id] SET k 1e400      (a known difference: skipped, as exclusion `some-id` of
//!                             exclusions.rs says, unless exclusions are off)
//! ```

/// One command of the file, with its line number.
#[derive(Debug, Clone)]
pub struct Case {
    pub line: usize,
    pub args: Vec<Vec<u8>>,
    /// The exclusion this line is a known case of.
    pub known: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub cases: Vec<Case>,
}

/// The cases shipped with the harness.
pub const BUILTIN: &str = include_str!("../../differential/edge_cases.txt");

pub fn parse(text: &str) -> Result<Vec<Section>, String> {
    let mut sections = vec![Section { name: "(start)".into(), cases: Vec::new() }];
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("##") {
            sections.push(Section { name: name.trim().to_string(), cases: Vec::new() });
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (known, command) = match trimmed.strip_prefix('[').and_then(|r| r.split_once(']')) {
            Some((id, rest)) => (Some(id.trim().to_string()), rest),
            None => (None, trimmed),
        };
        let args = split(command).map_err(|e| format!("edge cases line {n}: {e}"))?;
        sections.last_mut().expect("a section").cases.push(Case { line: n, args, known });
    }
    sections.retain(|s| !s.cases.is_empty());
    Ok(sections)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Splits a line into arguments.
pub fn split(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b' ' || b[i] == b'\t' {
            i += 1;
            continue;
        }
        let mut arg = Vec::new();
        match b[i] {
            b'"' => {
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err("unterminated double quote".into()),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            let c = *b.get(i + 1).ok_or("a backslash at the end")?;
                            i += 1;
                            match c {
                                b'n' => arg.push(b'\n'),
                                b'r' => arg.push(b'\r'),
                                b't' => arg.push(b'\t'),
                                b'x' => {
                                    let v = b.get(i + 1).and_then(|&h| hex(h)).zip(b.get(i + 2).and_then(|&l| hex(l)));
                                    let (h, l) = v.ok_or("\\x needs two hex digits")?;
                                    arg.push(h << 4 | l);
                                    i += 2;
                                }
                                other => arg.push(other),
                            }
                        }
                        Some(&c) => arg.push(c),
                    }
                    i += 1;
                }
                i += 1;
            }
            b'\'' => {
                i += 1;
                while b.get(i) != Some(&b'\'') {
                    arg.push(*b.get(i).ok_or("unterminated single quote")?);
                    i += 1;
                }
                i += 1;
            }
            _ => {
                while i < b.len() && b[i] != b' ' && b[i] != b'\t' {
                    arg.push(b[i]);
                    i += 1;
                }
                if arg.len() > 2 && arg[0] == b'{' && arg[arg.len() - 1] == b'}' {
                    let inner = &arg[1..arg.len() - 1];
                    if let Some(star) = inner.iter().rposition(|&c| c == b'*') {
                        if let Some(n) = std::str::from_utf8(&inner[star + 1..]).ok().and_then(|s| s.parse::<usize>().ok()) {
                            arg = inner[..star].repeat(n);
                        }
                    }
                }
            }
        }
        out.push(arg);
    }
    Ok(out)
}
