//! Builds the fault injector (`crates/crowndb-faultfs`, an `LD_PRELOAD` library) for the
//! I/O fault harness, with a plain `rustc` call into `OUT_DIR`: the library has no
//! dependencies, and building it here guarantees it exists and matches its source before
//! any test of this crate runs, whatever order cargo builds workspace members in.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let src = manifest.join("../crowndb-faultfs/src/lib.rs");
    println!("cargo:rerun-if-changed={}", src.display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("libcrowndb_faultfs.so");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(&rustc)
        .args(["--crate-type", "cdylib", "--crate-name", "crowndb_faultfs", "--edition", "2021"])
        .args(["-C", "opt-level=1", "-C", "debuginfo=0", "--cap-lints", "warn"])
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("building the fault injector {} with {rustc:?} failed ({s})", src.display()),
        Err(e) => panic!("running {rustc:?} to build the fault injector {}: {e}", src.display()),
    }
    println!("cargo:rustc-env=CROWNDB_FAULTFS_BUILT={}", out.display());
}
