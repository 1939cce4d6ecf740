//! ADD: bridge, veth, IPAM, container addresses and routes, gateway,
//! masquerade, result — with an undo stack so a failure leaves nothing.
//!
//! Two phases run work concurrently (the process is otherwise idle while a
//! child runs): the delegated IPAM ADD runs while the node-side links are
//! created, and the masquerade batch runs while the pod side and the
//! gateway are configured. No sleeps, no polling.

use cni::{CniError, CniResult, Command, Request};
use netkit::{LinkInfo, MacAddr, Netlink, NetnsFile, VethPair};

use crate::config::{self, BridgeConf, format_mac};
use crate::error::{BridgeError, Result};
use crate::result::{self, Plan};
use crate::undo::{Action, Undo};
use crate::{container, gateway, host, masq, spoofchk};

/// `CNI_ARGS` keys this plugin (and its IPAM) understands.
pub const KNOWN_ARGS: &[&str] = &["MAC", "IP"];

/// The sockets and inputs of one ADD.
pub struct Ctx<'a> {
    pub req: &'a Request,
    pub cfg: &'a BridgeConf,
    pub pod_ns: NetnsFile,
    pub host: Netlink,
    pub pod: Netlink,
}

impl<'a> Ctx<'a> {
    /// Opens the pod netns and one socket in each namespace.
    pub fn open(req: &'a Request, cfg: &'a BridgeConf) -> Result<Ctx<'a>> {
        let path = req.netns().ok_or_else(|| {
            BridgeError::kernel(
                "open CNI_NETNS",
                netkit::Error::NetnsNotFound {
                    path: req.env.netns.clone().unwrap_or_default(),
                },
            )
        })?;
        let pod_ns = NetnsFile::open(path).map_err(|e| BridgeError::kernel("open CNI_NETNS", e))?;
        let host = Netlink::open().map_err(|e| BridgeError::kernel("open netlink", e))?;
        let pod = Netlink::open_in(&pod_ns)
            .map_err(|e| BridgeError::kernel("open netlink in CNI_NETNS", e))?;
        Ok(Ctx {
            req,
            cfg,
            pod_ns,
            host,
            pod,
        })
    }

    fn ifname(&self) -> &'a str {
        &self.req.env.ifname
    }

    fn cid(&self) -> &'a str {
        &self.req.env.container_id
    }

    /// Reverses one step of a failed ADD.
    pub fn undo_one(&mut self, a: &Action) -> Result<()> {
        match a {
            Action::IpamDel => self
                .req
                .ipam_run(Command::Del)
                .map_err(BridgeError::Delegate),
            Action::DeleteHostVeth { index, name } => self
                .host
                .delete_link(*index)
                .map(drop)
                .map_err(|e| BridgeError::kernel(format!("delete {name}"), e)),
            Action::MasqDel => masq::del(self.cfg, self.cid(), self.ifname(), None),
            Action::SpoofCheckDel => spoofchk::del(self.cid(), self.ifname()),
        }
    }

    /// Node-side links (bridge, veth, port flags, VLANs) and the pod-side
    /// steps that do not need IPAM's answer (sysctls, link up).
    fn links(&mut self, undo: &mut Undo) -> Result<(LinkInfo, VethPair)> {
        let ifname = self.ifname();
        let br = host::ensure_bridge(&mut self.host, self.cfg)?;
        let pair = host::create_veth(&mut self.host, self.cfg, &br, &self.pod_ns, ifname)?;
        undo.push(Action::DeleteHostVeth {
            index: pair.host.index,
            name: pair.host.name.clone(),
        });
        host::set_port_flags(&mut self.host, self.cfg, &pair.host)?;
        host::set_port_vlans(&mut self.host, self.cfg, &pair.host)?;
        container::prepare(
            &mut self.pod,
            &self.pod_ns,
            self.cfg,
            ifname,
            pair.peer_index,
        )?;
        Ok((br, pair))
    }

    /// Phase 1: links while IPAM allocates.
    fn phase1(&mut self, undo: &mut Undo) -> Result<(LinkInfo, VethPair, Option<Plan>)> {
        let req = self.req;
        let (links, ipam) = std::thread::scope(|s| {
            let ipam = self.cfg.layer3.then(|| s.spawn(|| req.ipam_add()));
            let links = self.links(undo);
            (links, ipam.map(|t| t.join()))
        });
        let ipam = match ipam {
            None => None,
            Some(Ok(Ok(r))) => {
                undo.push(Action::IpamDel);
                r
            }
            Some(Ok(Err(e))) => return Err(links.err().unwrap_or(BridgeError::Delegate(e))),
            Some(Err(_)) => return Err(BridgeError::Internal("IPAM thread panicked".into())),
        };
        let (br, pair) = links?;
        let plan = ipam.map(|r| result::plan(r, self.cfg)).transpose()?;
        Ok((br, pair, plan))
    }

    /// Pod side and gateway (phase 2): extra interfaces (a VLAN gateway)
    /// and the pinned bridge MAC.
    fn configure(
        &mut self,
        br: &LinkInfo,
        pair: &VethPair,
        plan: Option<&Plan>,
    ) -> Result<(Vec<LinkInfo>, Option<MacAddr>)> {
        let (cfg, ifname) = (self.cfg, self.ifname());
        container::configure(
            &mut self.pod,
            &self.pod_ns,
            cfg,
            ifname,
            pair.peer_index,
            plan,
        )?;
        let mut extra = Vec::new();
        let mut pinned = None;
        if let (true, Some(plan)) = (cfg.is_gateway, plan) {
            let gw_link = match cfg.vlan {
                Some(_) => {
                    let l = host::ensure_vlan_gateway(&mut self.host, cfg, br)?;
                    extra.push(l.clone());
                    l
                }
                None => br.clone(),
            };
            gateway::ensure_addrs(&mut self.host, cfg, &gw_link, &plan.bridge_addrs)?;
            pinned = gateway::pin_mac(&mut self.host, br)?;
            gateway::enable_forwarding(&plan.bridge_addrs)?;
        }
        Ok((extra, pinned))
    }

    fn container_mac(&mut self, pair: &VethPair) -> Result<Option<String>> {
        if let Some(m) = self.cfg.mac {
            return Ok(Some(format_mac(&m)));
        }
        let l = self
            .pod
            .link_by_index(pair.peer_index)
            .map_err(|e| BridgeError::kernel(format!("read {}", self.ifname()), e))?;
        Ok(l.mac.map(|m| m.to_string()))
    }

    /// The whole ADD; every created thing is recorded in `undo`.
    pub fn run(&mut self, undo: &mut Undo) -> Result<CniResult> {
        if self.pod.find_link(self.ifname()).ok().flatten().is_some() {
            return Err(BridgeError::IfnameTaken {
                ifname: self.ifname().to_string(),
                netns: self.pod_ns.path().display().to_string(),
            });
        }
        let (br, pair, plan) = self.phase1(undo)?;
        let mac = self.container_mac(&pair)?;
        if self.cfg.macspoofchk {
            undo.push(Action::SpoofCheckDel);
        }
        if self.cfg.ip_masq && plan.is_some() {
            undo.push(Action::MasqDel);
        }
        let (cfg, cid, ifname) = (self.cfg, self.cid(), self.ifname());
        let (fw, configured) = std::thread::scope(|s| {
            let fw = s.spawn(|| {
                firewall(
                    cfg,
                    cid,
                    ifname,
                    plan.as_ref(),
                    &pair.host.name,
                    mac.as_deref(),
                )
            });
            let configured = self.configure(&br, &pair, plan.as_ref());
            (fw.join(), configured)
        });
        fw.unwrap_or_else(|_| Err(BridgeError::Internal("firewall thread panicked".into())))?;
        let (extra, pinned) = configured?;
        self.build(br, &pair, plan, mac, extra, pinned)
    }

    fn build(
        &mut self,
        br: LinkInfo,
        pair: &VethPair,
        plan: Option<Plan>,
        mac: Option<String>,
        extra: Vec<LinkInfo>,
        pinned: Option<MacAddr>,
    ) -> Result<CniResult> {
        let br_mac = if pinned.is_some() {
            pinned
        } else {
            self.host
                .link_by_index(br.index)
                .map_err(|e| BridgeError::kernel(format!("read {}", br.name), e))?
                .mac
        };
        let mut out = plan.map(|p| p.result).unwrap_or_default();
        let sandbox = self.req.env.netns.as_ref().map(|p| p.display().to_string());
        out.interfaces = vec![
            result::iface(&br.name, br_mac.map(|m| m.to_string()), None),
            result::iface(&pair.host.name, pair.host.mac.map(|m| m.to_string()), None),
            result::iface(self.ifname(), mac, sandbox),
        ];
        for l in extra {
            out.interfaces
                .push(result::iface(&l.name, l.mac.map(|m| m.to_string()), None));
        }
        result::apply_dns(&mut out, self.req.conf.dns.as_ref());
        Ok(out)
    }
}

/// Firewall work of phase 2 (runs on its own thread).
fn firewall(
    cfg: &BridgeConf,
    cid: &str,
    ifname: &str,
    plan: Option<&Plan>,
    host_veth: &str,
    mac: Option<&str>,
) -> Result<()> {
    if let (true, Some(mac)) = (cfg.macspoofchk, mac) {
        spoofchk::add(cid, ifname, host_veth, mac)?;
    }
    if let (true, Some(plan)) = (cfg.ip_masq, plan) {
        let ips: Vec<_> = plan.result.ips.iter().map(|ip| ip.address).collect();
        masq::add(cfg, cid, ifname, &ips)?;
    }
    Ok(())
}

/// The ADD entry point.
pub fn add(req: &Request) -> std::result::Result<CniResult, CniError> {
    let cfg = config::load(req)?;
    req.env.args.check_known(KNOWN_ARGS)?;
    let mut ctx = Ctx::open(req, &cfg)?;
    let mut undo = Undo::new();
    match ctx.run(&mut undo) {
        Ok(r) => Ok(r),
        Err(e) => {
            for f in undo.rollback(|a| ctx.undo_one(a)) {
                cni::skel::log(&f);
            }
            Err(CniError::from(e))
        }
    }
}
