//! Symmetric flow keys and the sharded, bounded flow table
#![forbid(unsafe_code)]
