//! The CNI protocol for ferrocni's plugins: environment, network
//! configuration, results in every supported version (0.3.0–1.1.0), errors
//! and their codes, delegation to IPAM plugins, and the plugin skeleton.

pub mod args;
pub mod config;
pub mod delegate;
pub mod env;
pub mod error;
pub mod netns;
pub mod result;
pub mod skel;
pub mod version;

pub use args::CniArgs;
pub use config::{Attachment, NetConf};
pub use env::{Command, Env};
pub use error::{CniError, code};
pub use result::{CniResult, Dns, Interface, IpConfig, Route};
pub use skel::{Outcome, Plugin, Request, dispatch, run};
pub use version::Version;
