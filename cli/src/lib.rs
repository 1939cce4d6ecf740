//! ferrocni (to be written).
