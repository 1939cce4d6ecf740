//! The `firewall` binary: hands the process to the CNI skeleton.

fn main() {
    cni::skel::run(&firewall::Firewall)
}
