//! bridge (to be written).
