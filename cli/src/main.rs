//! The `ferrocni` binary: see `ferrocni --help` and docs/cli.md.

fn main() {
    std::process::exit(ferrocni::cli::main());
}
