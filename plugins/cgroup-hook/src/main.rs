//! The `cgroup-hook` binary: all logic lives in the library ([`cgroup_hook::cli`]).

fn main() {
    // never a multi-line panic message: one line, non-zero exit
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "cgroup-hook: internal error: {}",
            cgroup_hook::text::Esc(info)
        );
    }));
    let argv: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(cgroup_hook::cli::main(&argv));
}
