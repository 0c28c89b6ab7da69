#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)] // a test reports failures by panicking

//! The committed `include/agt.h` is exactly what cbindgen generates from `src/lib.rs`, so the Go
//! and .NET SDKs never compile against a stale header. Regenerate with
//! `cbindgen --config cbindgen.toml --output include/agt.h` (or `AGT_WRITE_HEADER=1 cargo test`).

use std::path::PathBuf;

#[test]
fn committed_header_is_current() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen cannot read src/lib.rs")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("the header is UTF-8");
    let path = crate_dir.join("include/agt.h");
    if std::env::var_os("AGT_WRITE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write include/agt.h");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/agt.h is stale: run `AGT_WRITE_HEADER=1 cargo test -p agt-ffi --test header` and commit it"
    );
}
