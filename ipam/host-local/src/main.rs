//! The `host-local` binary.

fn main() {
    cni::skel::run(&host_local::HostLocal)
}
