//! host-local (to be written).
