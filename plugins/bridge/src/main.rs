//! The `bridge` binary: the CNI skeleton around [`bridge::Bridge`].

fn main() {
    cni::skel::run(&bridge::Bridge)
}
