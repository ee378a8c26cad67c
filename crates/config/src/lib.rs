//! weir's TOML configuration: schema, defaults and validation that names the key
#![forbid(unsafe_code)]
