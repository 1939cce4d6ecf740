//! cgroup-hook (to be written).
