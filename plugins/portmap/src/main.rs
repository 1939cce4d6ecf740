//! The `portmap` binary: the CNI skeleton around [`portmap::Portmap`].

fn main() {
    cni::skel::run(&portmap::Portmap)
}
