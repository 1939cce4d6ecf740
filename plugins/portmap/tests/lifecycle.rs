//! Lifecycle beyond the happy path: reference-created rules DELed by ours,
//! conflicts naming the holder (nothing half-applied) and GC of a holder
//! left by a lost DEL, CHECK of exactly the configured families, STATUS,
//! and stale UDP conntrack entries removed at ADD.

mod common;

use common::*;
use serde_json::{Value, json};

fn tcp(port: u16, host_ip: &str) -> Value {
    json!({"hostPort": port, "containerPort": 8080, "protocol": "tcp", "hostIP": host_ip})
}

#[test]
fn reference_rules_are_deleted_by_ours() {
    let n = Node::new("ri");
    let pods = [n.pod("refpod-a"), n.pod("refpod-b")];
    let _s = Server::start(&pods[0].ns, 8080, "a");
    let _t = Server::start(&pods[1].ns, 8080, "b");
    for (i, p) in pods.iter().enumerate() {
        let maps =
            json!([{"HostPort": 8081 + i, "ContainerPort": 8080, "Protocol": "tcp", "HostIP": ""}]);
        let mut conf = n.conf(None, maps, Some(p));
        conf.as_object_mut().unwrap().remove("recordDir");
        let out = n.call(
            &format!("{REF_DIR}/portmap"),
            "ADD",
            &p.cid,
            &p.path(),
            &conf,
        );
        assert!(
            out.success(),
            "reference ADD: {} {}",
            out.stdout,
            out.stderr
        );
    }
    assert_eq!(tcp_get(&n.out, HOST1, 8081).as_deref(), Some("a"));
    assert_eq!(tcp_get(&n.out, HOST2, 8082).as_deref(), Some("b"));
    assert!(n.firewall().contains("refpod-a") && n.firewall().contains("refpod-b"));
    newcomer_is_refused(&n, 8081, "refpod-a");
    // CHECK by ours of a pod the reference made (no record of ours).
    let maps = json!([{"HostPort": 8082, "ContainerPort": 8080, "Protocol": "tcp", "HostIP": ""}]);
    let conf = n.conf(None, maps, Some(&pods[1]));
    let out = n.call(&ours(), "CHECK", "refpod-b", &pods[1].path(), &conf);
    assert!(out.success(), "CHECK of a reference pod: {}", out.stdout);
    // a: cnitool-style DEL without portMappings and without netns.
    let out = n.call(
        &ours(),
        "DEL",
        "refpod-a",
        "",
        &n.conf(None, Value::Null, None),
    );
    assert!(out.success(), "{}", out.stdout);
    // b: containerd-style DEL with capitalised mappings and prevResult.
    let maps = json!([{"HostPort": 8082, "ContainerPort": 8080, "Protocol": "tcp", "HostIP": ""}]);
    let conf = n.conf(None, maps, Some(&pods[1]));
    let out = n.call(&ours(), "DEL", "refpod-b", &pods[1].path(), &conf);
    assert!(out.success(), "{}", out.stdout);
    let fw = n.firewall();
    assert!(
        !fw.contains("refpod-") && !fw.contains("CNI-DN-"),
        "left:\n{fw}"
    );
    assert_eq!(tcp_get(&n.out, HOST1, 8081), None);
    assert_eq!(tcp_get(&n.out, HOST2, 8082), None);
    for p in &pods {
        assert!(n.conntrack_of(p.ip).is_empty(), "conntrack of {}", p.ip);
    }
}

/// Ours on nftables must not shadow a port the reference's rules hold.
fn newcomer_is_refused(n: &Node, port: u16, holder: &str) {
    let c = Pod::fake("newcomer", "10.88.0.50/24");
    let conf = n.conf(None, json!([tcp(port, HOST1)]), Some(&c));
    let out = n.call(&ours(), "ADD", &c.cid, &c.path(), &conf);
    assert_eq!(out.error_code(), 105, "{}", out.stdout);
    assert!(out.stdout.contains(holder), "{}", out.stdout);
}

fn conflicts_and_gc(backend: &str) {
    let n = Node::new(&format!("c{}", &backend[..1]));
    let a = Pod::fake(&format!("holder-{backend}"), "10.88.0.2/24");
    let b = Pod::fake(&format!("second-{backend}"), "10.88.0.3/24");
    n.add(&a, &n.conf(Some(backend), json!([tcp(80, "")]), Some(&a)));
    let before = n.firewall();
    let cb = n.conf(
        Some(backend),
        json!([tcp(81, ""), tcp(80, HOST1)]),
        Some(&b),
    );
    let out = n.call(&ours(), "ADD", &b.cid, &b.path(), &cb);
    assert_eq!(out.error_code(), 105, "{}", out.stdout);
    let msg = out.json()["msg"].as_str().unwrap().to_string();
    assert!(msg.contains(&a.cid) && msg.contains("80"), "{msg}");
    assert_eq!(n.firewall(), before, "a refused ADD changed the firewall");
    assert!(
        !n.records()
            .join(NET)
            .join(format!("{}:eth0", b.cid))
            .exists()
    );
    // Two different targets for one host socket in one request.
    let dup = json!([tcp(90, ""), {"hostPort": 90, "containerPort": 9, "protocol": "tcp"}]);
    let out = n.call(
        &ours(),
        "ADD",
        &b.cid,
        &b.path(),
        &n.conf(Some(backend), dup, Some(&b)),
    );
    assert_eq!(out.error_code(), 7, "{}", out.stdout);
    // a's DEL was lost; GC with only b valid removes it.
    let mut gc = n.conf(Some(backend), Value::Null, None);
    gc["cniVersion"] = json!("1.1.0");
    gc["cni.dev/valid-attachments"] = json!([{"containerID": b.cid, "ifname": "eth0"}]);
    let out = n.call(&ours(), "GC", "", "", &gc);
    assert!(out.success(), "GC {}", out.stdout);
    assert!(!n.firewall().contains(&a.cid), "GC left {}", a.cid);
    assert!(
        !n.records()
            .join(NET)
            .join(format!("{}:eth0", a.cid))
            .exists()
    );
    n.add(&b, &cb);
    assert!(n.firewall().contains(&b.cid));
}

#[test]
fn conflicts_and_gc_nftables() {
    conflicts_and_gc("nftables");
}

#[test]
fn conflicts_and_gc_iptables() {
    conflicts_and_gc("iptables");
}

#[test]
fn check_verifies_exactly_the_configured_families() {
    let n = Node::new("ck");
    for (backend, break_it) in [
        (
            "iptables",
            &["iptables", "-t", "nat", "-F", "CNI-HOSTPORT-DNAT"][..],
        ),
        (
            "nftables",
            &[
                "nft",
                "flush",
                "map",
                "inet",
                "ferrocni_hostport",
                "hp4_any",
            ][..],
        ),
    ] {
        let p = Pod::fake(&format!("chk-{backend}"), "10.88.0.9/24");
        let conf = n.conf(Some(backend), json!([tcp(7000, "")]), Some(&p));
        n.add(&p, &conf);
        let out = n.call(&ours(), "CHECK", &p.cid, &p.path(), &conf);
        assert!(
            out.success(),
            "{backend} CHECK of a v4-only pod: {}",
            out.stdout
        );
        n.node.exec_ok(break_it);
        let out = n.call(&ours(), "CHECK", &p.cid, &p.path(), &conf);
        assert_eq!(out.error_code(), 107, "{backend}: {}", out.stdout);
        let out = n.call(&ours(), "DEL", &p.cid, "", &conf);
        assert!(out.success());
    }
}

#[test]
fn status_reports_an_unusable_backend() {
    let n = Node::new("st");
    let mut conf = n.conf(None, Value::Null, None);
    conf["cniVersion"] = json!("1.1.0");
    let ok = integration::CniCall::new(&ours(), "STATUS")
        .config(&conf)
        .in_node(&n.node)
        .run();
    assert!(ok.success(), "{}", ok.stdout);
    let bad = integration::CniCall::new(&ours(), "STATUS")
        .env("PATH", "/nonexistent")
        .config(&conf)
        .in_node(&n.node)
        .run();
    assert_eq!(bad.error_code(), 50, "{}", bad.stdout);
}

#[test]
fn stale_udp_conntrack_is_removed_at_add() {
    let n = Node::new("su");
    let p = n.pod("udp-pod");
    let _s = Server::start(&p.ns, 5353, "dns");
    // NAT is live on the node (another mapping), so the first packets of a
    // UDP flow to a not-yet-mapped port get a conntrack entry without DNAT.
    n.add(&p, &n.conf(None, json!([tcp(7000, "")]), Some(&p)));
    assert_eq!(udp_get_from(&n.out, HOST1, 7053, 40053), None);
    let maps = json!([{"hostPort": 7053, "containerPort": 5353, "protocol": "udp"}]);
    let out = n.call(
        &ours(),
        "ADD",
        "udp-pod-b",
        &p.path(),
        &n.conf(None, maps, Some(&p)),
    );
    assert!(out.success(), "{}", out.stdout);
    // Same client, same source port: answered only if ADD removed the entry.
    assert_eq!(
        udp_get_from(&n.out, HOST1, 7053, 40053).as_deref(),
        Some("dns")
    );
}

#[test]
fn dual_stack_rules_follow_each_mappings_family() {
    let n = Node::new("ds");
    for backend in ["nftables", "iptables"] {
        let mut p = Pod::fake(&format!("dual-{backend}"), "10.88.0.7/24");
        p.prev["ips"] = json!([{"address": "10.88.0.7/24", "interface": 0},
                               {"address": "fd00:88::7/64", "interface": 0}]);
        let sctp = json!({"hostPort": 6003, "containerPort": 80, "protocol": "SCTP"});
        let maps = json!([
            tcp(6000, ""),
            tcp(6001, "fd00:1::1"),
            tcp(6002, HOST1),
            sctp
        ]);
        let conf = n.conf(Some(backend), maps, Some(&p));
        n.add(&p, &conf);
        let fw = n.firewall();
        assert!(fw.contains("fd00:88::7"), "{backend}: no IPv6 rule:\n{fw}");
        assert!(fw.contains("10.88.0.7"), "{backend}: no IPv4 rule:\n{fw}");
        assert!(fw.contains("sctp"), "{backend}: no SCTP rule:\n{fw}");
        let v6 = n.node.exec_ok(&["ip6tables-save", "-t", "nat"]);
        if backend == "iptables" {
            assert!(
                v6.contains("--dport 6001") && !v6.contains("--dport 6002"),
                "{v6}"
            );
        }
        let out = n.call(&ours(), "CHECK", &p.cid, &p.path(), &conf);
        assert!(out.success(), "{backend} CHECK: {}", out.stdout);
        let out = n.call(
            &ours(),
            "DEL",
            &p.cid,
            "",
            &n.conf(Some(backend), Value::Null, None),
        );
        assert!(out.success(), "{}", out.stdout);
        let fw = n.firewall();
        assert!(
            !fw.contains("fd00:88::7") && !fw.contains(&p.cid),
            "{backend} left:\n{fw}"
        );
    }
}

/// The reference layout for one container, as `iptables-restore` input.
fn reference_rules(chain: &str, cid: &str, port: u16, pod: &str) -> String {
    format!(
        "*nat\n:CNI-HOSTPORT-DNAT - [0:0]\n:{chain} - [0:0]\n\
         -A PREROUTING -m addrtype --dst-type LOCAL -j CNI-HOSTPORT-DNAT\n\
         -A CNI-HOSTPORT-DNAT -p tcp -m comment --comment \"dnat name: \\\"{NET}\\\" id: \\\"{cid}\\\"\" -m multiport --dports {port} -j {chain}\n\
         -A {chain} -p tcp -m tcp --dport {port} -j DNAT --to-destination {pod}:80\nCOMMIT\n"
    )
}

#[test]
fn del_without_anything_changes_nothing_but_finds_legacy_reference_rules() {
    let n = Node::new("lg");
    let bare = n.conf(None, Value::Null, None);
    let before = n.firewall();
    let out = n.call(&ours(), "DEL", "nothing-here", "", &bare);
    assert!(out.success(), "{}", out.stdout);
    assert_eq!(n.firewall(), before, "a no-op DEL changed the firewall");
    // A pod the reference made through iptables-legacy.
    let cid = "legacy-pod";
    let chain = format!("CNI-DN-{}", &fwkit_chain_hash(cid));
    let mut restore = n.node.command(&["iptables-legacy-restore", "--noflush"]);
    restore.stdin(std::process::Stdio::piped());
    let mut child = restore.spawn().unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        reference_rules(&chain, cid, 8090, "10.88.0.44").as_bytes(),
    )
    .unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    let save = || n.node.exec_ok(&["iptables-legacy-save", "-t", "nat"]);
    assert!(save().contains(&chain));
    let out = n.call(&ours(), "DEL", cid, "", &bare);
    assert!(out.success(), "{}", out.stdout);
    let left = save();
    assert!(
        !left.contains(&chain) && !left.contains(cid),
        "left:\n{left}"
    );
}

/// `CNI-DN-` + 21 hex of sha512(network + id), as the reference names it.
fn fwkit_chain_hash(cid: &str) -> String {
    fwkit::portmap_dn_chain(NET, cid)["CNI-DN-".len()..].to_string()
}

#[test]
fn lost_record_del_with_mappings_only_removes_that_container() {
    let n = Node::new("lr");
    let a = Pod::fake("lost-record", "10.88.0.20/24");
    let b = Pod::fake("bystander", "10.88.0.21/24");
    let maps_a = json!([tcp(8100, ""), tcp(8101, HOST1)]);
    n.add(&a, &n.conf(None, maps_a.clone(), Some(&a)));
    n.add(&b, &n.conf(None, json!([tcp(8101, HOST2)]), Some(&b)));
    std::fs::remove_file(n.records().join(NET).join("lost-record:eth0")).unwrap();
    // containerd's second round: mappings, empty CNI_NETNS, no prevResult.
    let out = n.call(&ours(), "DEL", &a.cid, "", &n.conf(None, maps_a, None));
    assert!(out.success(), "{}", out.stdout);
    let fw = n.firewall();
    assert!(!fw.contains(&a.cid), "left:\n{fw}");
    assert!(
        fw.contains(&b.cid) && fw.contains("10.88.0.21"),
        "bystander lost:\n{fw}"
    );
}
