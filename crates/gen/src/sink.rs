//! Sink measurements.
