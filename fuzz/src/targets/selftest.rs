//! Targets that misbehave on purpose (panic, invariant, hang, abort, memory)
//! so the supervisor's detection can be tested. Reachable by name only,
//! never part of a normal run.

use super::Target;
use crate::check::Verdict;

fn seed_of(c: &str) -> Vec<Vec<u8>> {
    vec![c.as_bytes().to_vec()]
}

fn run(input: &[u8]) -> Verdict {
    match input.first() {
        Some(b'P') => panic!("selftest panic"),
        Some(b'I') => Err("selftest invariant: broken".into()),
        Some(b'H') => loop {
            std::thread::sleep(std::time::Duration::from_millis(50));
        },
        Some(b'A') => std::process::abort(),
        Some(b'M') => {
            let v = vec![1u8; 300 << 20];
            drop(std::hint::black_box(v));
            Ok(())
        }
        Some(b'C') => {
            let v = vec![1u8; 3 << 30];
            drop(std::hint::black_box(v));
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `selftest_<kind>` for panic, invariant, hang, abort, memory, cap.
pub fn by_name(name: &str) -> Option<Target> {
    type Seeds = fn() -> Vec<Vec<u8>>;
    let (seeds, about): (Seeds, &str) = match name {
        "selftest_panic" => (|| seed_of("P"), "panics"),
        "selftest_invariant" => (|| seed_of("I"), "breaks an invariant"),
        "selftest_hang" => (|| seed_of("H"), "never returns"),
        "selftest_abort" => (|| seed_of("A"), "aborts"),
        "selftest_memory" => (|| seed_of("M"), "uses 300 MiB for one input"),
        "selftest_cap" => (|| seed_of("C"), "asks for 3 GiB"),
        _ => return None,
    };
    let name = [
        "selftest_panic",
        "selftest_invariant",
        "selftest_hang",
        "selftest_abort",
        "selftest_memory",
        "selftest_cap",
    ]
    .into_iter()
    .find(|n| *n == name)?;
    Some(Target {
        name,
        about,
        seeds,
        run,
    })
}
