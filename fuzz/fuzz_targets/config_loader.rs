//! Arbitrary text as a bridge config (`weir check-config`, `weir run`): parsing ends in a valid
//! config or an error, never a panic; an error that names a key names a non-empty one, and a
//! config that parses keeps the validated invariants (two different NICs, an absolute run dir).
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_config::{Config, ConfigError};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Config::parse(&text, "fuzz.toml") {
        Ok(c) => {
            assert!(!c.interfaces.inside.is_empty() && !c.interfaces.outside.is_empty());
            assert_ne!(c.interfaces.inside, c.interfaces.outside);
            assert!(c.service.run_dir.is_absolute());
            assert!(c.stats.interval_s > 0);
        }
        Err(ConfigError::Invalid { key, fix, .. }) => assert!(!key.is_empty() && !fix.is_empty()),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
