//! uniffi's bindings generator, built with the SDK's uniffi version: the binding tests run it,
//! and app builds use it the same way (`mobile-sdk/README.md`):
//! `cargo run -p loanwatch-e2e --bin uniffi-bindgen -- generate --library LIB --language kotlin --out-dir OUT`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
