//! fwkit (to be written).
