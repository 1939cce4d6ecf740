//! Reference iptables portmap layout — filled in step 3.
