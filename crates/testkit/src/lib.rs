//! Test kit: fixtures, packet builders, proptest strategies, network-namespace guard
#![forbid(unsafe_code)]
