//! portmap (to be written).
