//! With feature `emulate`: compiles kernels/mldsa.cu with the host C++ compiler (POAI_HOST
//! defined), so the host-emulated backend runs the very kernel source the GPU runs.

fn main() {
    println!("cargo:rerun-if-changed=kernels/mldsa.cu");
    #[cfg(feature = "emulate")]
    emulate();
}

#[cfg(feature = "emulate")]
fn emulate() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let out = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    // A one-line C++ file that includes the .cu source, so no compiler needs to be told that a
    // `.cu` file is C++.
    let wrapper = std::path::Path::new(&out).join("mldsa_host.cpp");
    let src = std::path::Path::new(&manifest)
        .join("kernels")
        .join("mldsa.cu");
    let text = format!("#define POAI_HOST 1\n#include \"{}\"\n", src.display());
    if let Err(e) = std::fs::write(&wrapper, text) {
        println!("cargo:warning=cannot write {}: {e}", wrapper.display());
        std::process::exit(1);
    }
    cc::Build::new()
        .cpp(true)
        .file(&wrapper)
        .opt_level(3)
        .warnings(true)
        .flag_if_supported("-Wno-unknown-pragmas")
        .compile("poai_mldsa_host");
}
