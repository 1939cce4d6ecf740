//! Port mappings (portmap plugin) — placeholder, filled in step 3.
