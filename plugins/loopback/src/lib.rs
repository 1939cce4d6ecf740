//! loopback (to be written).
