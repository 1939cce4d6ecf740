//! Tighten-only, idempotency and undo lines per knob.

use super::*;

fn a(knob: Knob, want: &str, cur: &str) -> Assessment {
    let v = knob.parse(want).unwrap();
    assess(knob, &v, cur, None).unwrap()
}

#[test]
fn bytes() {
    let x = a(Knob::MemoryMax, "1Gi", "max\n");
    assert_eq!(
        (x.looser, x.lines, x.undo),
        (
            None,
            vec!["1073741824".to_string()],
            vec!["max".to_string()]
        )
    );
    assert!(a(Knob::MemoryMax, "1Gi", "1073741824\n").lines.is_empty());
    assert!(
        a(Knob::MemoryMax, "2Gi", "1073741824\n")
            .looser
            .unwrap()
            .contains("looser")
    );
    assert!(a(Knob::MemoryMax, "max", "1073741824\n").looser.is_some());
    // the kernel rounds down to the page size: an unaligned value is satisfied
    let p = page_size();
    assert!(
        a(
            Knob::MemoryHigh,
            &(p * 10 + 1).to_string(),
            &(p * 10).to_string()
        )
        .lines
        .is_empty()
    );
    assert!(assess(Knob::MemoryMax, &Value::Bytes(Limit::Max), "junk", None).is_err());
}

#[test]
fn counts_bools_weights_cpu() {
    assert!(a(Knob::PidsMax, "100", "max").looser.is_none());
    assert!(a(Knob::PidsMax, "max", "100").looser.is_some());
    assert!(a(Knob::CpuIdle, "0", "1").looser.is_some());
    assert!(a(Knob::CpuIdle, "1", "0").looser.is_none());
    assert!(a(Knob::MemoryOomGroup, "0", "1").looser.is_none());
    assert_eq!(a(Knob::MemoryOomGroup, "0", "1").lines, vec!["0"]);
    assert!(a(Knob::CpuWeight, "200", "100").looser.is_some());
    assert_eq!(a(Knob::CpuWeight, "50", "100").lines, vec!["50"]);
    assert!(a(Knob::CpuMax, "2", "100000 100000").looser.is_some());
    let x = a(Knob::CpuMax, "50%", "max 100000");
    assert_eq!(
        (x.lines, x.undo),
        (
            vec!["50000 100000".to_string()],
            vec!["max 100000".to_string()]
        )
    );
    assert!(a(Knob::CpuMax, "50%@10ms", "50000 100000").looser.is_none());
}

#[test]
fn cpusets() {
    let eff = CpuSet::parse("0-3").unwrap();
    let v = Knob::CpusetCpus.parse("1-2").unwrap();
    let x = assess(Knob::CpusetCpus, &v, "\n", Some(&eff)).unwrap();
    assert_eq!(
        (x.looser, x.lines, x.undo),
        (None, vec!["1-2".to_string()], vec!["\n".to_string()])
    );
    let v = Knob::CpusetCpus.parse("2-5").unwrap();
    assert!(
        assess(Knob::CpusetCpus, &v, "\n", Some(&eff))
            .unwrap()
            .looser
            .is_some()
    );
    assert!(
        assess(Knob::CpusetCpus, &v, "0-2\n", None)
            .unwrap()
            .looser
            .is_some()
    );
    assert!(
        assess(Knob::CpusetCpus, &v, "2-5\n", None)
            .unwrap()
            .lines
            .is_empty()
    );
}

#[test]
fn io_max() {
    let cur = "254:0 rbps=max wbps=2097152 riops=max wiops=max\n";
    let x = a(Knob::IoMax, "254:0 wbps=1Mi; 8:0 riops=10", cur);
    assert_eq!(x.looser, None);
    assert_eq!(x.lines, vec!["254:0 wbps=1048576", "8:0 riops=10"]);
    assert_eq!(
        x.undo,
        vec![
            "254:0 rbps=max wbps=2097152 riops=max wiops=max",
            "8:0 rbps=max wbps=max riops=max wiops=max"
        ]
    );
    assert!(
        a(Knob::IoMax, "254:0 wbps=4Mi", cur)
            .looser
            .unwrap()
            .contains("wbps=2097152")
    );
    assert!(a(Knob::IoMax, "254:0 wbps=2Mi", cur).lines.is_empty());
}

#[test]
fn io_weight() {
    let cur = "default 100\n8:0 50\n";
    let x = a(Knob::IoWeight, "80; 8:16 20", cur);
    assert_eq!(x.looser, None);
    assert_eq!(x.lines, vec!["default 80", "8:16 20"]);
    assert_eq!(x.undo, vec!["default 100", "8:16 default"]);
    assert!(a(Knob::IoWeight, "8:0 60", cur).looser.is_some());
    let x = a(Knob::IoWeight, "8:0 40", cur);
    assert_eq!(x.undo, vec!["8:0 50"]);
}
