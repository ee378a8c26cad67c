//! Protocol ids, signature file, aho-corasick matcher, structural detectors, per-flow inspection state
#![forbid(unsafe_code)]
