//! Arbitrary text as a signature file (`--signatures`, `inspect.signatures`): it compiles into
//! a classifier or gives an error, never a panic; a classifier that compiles answers for its
//! signatures and protocols.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_dpi::Classifier;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(c) = Classifier::from_toml(&text, "fuzz") {
        let reg = c.registry();
        for id in reg.iter() {
            assert!(!reg.name(id).is_empty());
        }
        let _ = c.signature_count();
    }
});
