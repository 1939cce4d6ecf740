//! conformance (to be written).
