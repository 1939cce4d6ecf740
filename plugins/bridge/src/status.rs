//! STATUS: forwarded to IPAM (SPEC 1.1: must forward to delegates), and,
//! with `ipMasq`, a probe that the masquerade backend can run here (its
//! failure is code 50, "not available").

use cni::{CniError, Command, Request};

use crate::{config, masq};

/// The STATUS entry point.
pub fn status(req: &Request) -> Result<(), CniError> {
    let cfg = config::load(req)?;
    req.ipam_run(Command::Status)?;
    if cfg.ip_masq && cfg.layer3 {
        masq::probe(&cfg)?;
    }
    Ok(())
}
