//! netkit (to be written).
