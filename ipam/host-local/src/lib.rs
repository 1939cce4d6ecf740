//! host-local IPAM: a drop-in replacement for the reference plugin with the
//! same on-disk store, plus an index for constant-time lookups, retry-safe
//! ADD, GC, STATUS and opt-in reclaim of reservations from earlier boots.

pub mod boot;
pub mod config;
pub mod dns;
pub mod error;
pub mod index;
pub mod index_format;
pub mod mtime;
pub mod ops;
pub mod range;
pub mod safefs;
pub mod store;

use cni::{CniError, CniResult, Plugin, Request};

pub use error::HostLocalError;

/// The plugin.
#[derive(Debug, Default, Clone, Copy)]
pub struct HostLocal;

impl Plugin for HostLocal {
    fn name(&self) -> &'static str {
        "host-local"
    }
    fn add(&self, req: &Request) -> Result<CniResult, CniError> {
        Ok(ops::add(req)?)
    }
    fn del(&self, req: &Request) -> Result<(), CniError> {
        Ok(ops::del(req)?)
    }
    fn check(&self, req: &Request) -> Result<(), CniError> {
        Ok(ops::check(req)?)
    }
    fn status(&self, req: &Request) -> Result<(), CniError> {
        Ok(ops::status(req)?)
    }
    fn gc(&self, req: &Request) -> Result<(), CniError> {
        Ok(ops::gc(req)?)
    }
}
