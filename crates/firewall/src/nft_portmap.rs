//! nftables portmap layout — filled in step 3.
