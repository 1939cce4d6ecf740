//! GC: forwarded to IPAM, and masquerade rules of this network whose
//! attachment is not in `cni.dev/valid-attachments` are removed (both
//! layouts). Continues after a failure and reports every failure.
//!
//! SPEC 1.1: GC must forward to delegates and may assume the sandboxes of
//! invalid attachments are gone. The reference bridge does neither.

use cni::{CniError, Command, Request};

use crate::error::BridgeError;
use crate::{config, masq};

/// The GC entry point.
pub fn gc(req: &Request) -> Result<(), CniError> {
    let cfg = config::load(req)?;
    let mut errors = Vec::new();
    if let Err(e) = req.ipam_run(Command::Gc) {
        errors.push(e);
    }
    if cfg.ip_masq && cfg.layer3 {
        let valid: Vec<(&str, &str)> = req
            .conf
            .valid_attachments
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|a| (a.container_id.as_str(), a.ifname.as_str()))
            .collect();
        if let Err(e) = masq::gc(&cfg, &valid) {
            errors.push(e.into());
        }
    }
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(BridgeError::Many(errors).into()),
    }
}
