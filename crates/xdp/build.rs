//! Compiles weir's XDP program (`bpf/weir_xdp.c`) with clang into `OUT_DIR/weir_xdp.o`, which
//! `src/fastpath.rs` embeds with `include_bytes!`.
//!
//! Needs clang (with the BPF target) and libbpf's headers (`bpf/bpf_helpers.h`: the Debian
//! package `libbpf-dev`; `scripts/setup.sh` installs both). `CLANG` overrides the compiler.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "bpf/weir_xdp.c";
    println!("cargo:rerun-if-changed={src}");
    println!("cargo:rerun-if-env-changed=CLANG");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("weir_xdp.o");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    // The multiarch include dir holds <asm/types.h>, which <linux/bpf.h> needs.
    let arch = match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => "x86_64-linux-gnu",
        Ok("aarch64") => "aarch64-linux-gnu",
        Ok(other) => other,
        Err(_) => "x86_64-linux-gnu",
    }
    .to_string();
    let status = Command::new(&clang)
        .args(["-target", "bpf", "-O2", "-g", "-Wall", "-Werror"])
        .arg(format!("-I/usr/include/{arch}"))
        .args(["-c", src, "-o"])
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => {
            eprintln!(
                "error: `{clang} -target bpf` failed ({s}) compiling {src}. It needs libbpf's headers \
                 (bpf/bpf_helpers.h): install the Debian package libbpf-dev (scripts/setup.sh does)"
            );
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!(
                "error: cannot run `{clang}` ({e}) to compile weir's XDP program {src}. Install clang \
                 and libbpf-dev (scripts/setup.sh does), or set CLANG to a clang with the BPF target"
            );
            std::process::exit(1);
        }
    }
}
