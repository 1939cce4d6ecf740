//! cni (to be written).
