//! Bounded, event-driven waits on link state (`RTNLGRP_LINK`): subscribe,
//! read the state once, then re-read only when the kernel announces a
//! change. Replaces the reference plugin's 0/50/500/1000/1000 ms polling of
//! the host veth's oper-state.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::link::{LinkInfo, OperState};
use crate::socket::{Netlink, RTNLGRP_LINK};

impl Netlink {
    /// Waits until `ready(&link)` holds for link `index`, at most `timeout`.
    /// Returns the link as last read. [`Error::Timeout`] when time runs out.
    pub fn wait_link(
        &mut self,
        index: u32,
        timeout: Duration,
        ready: impl Fn(&LinkInfo) -> bool,
    ) -> Result<LinkInfo> {
        let deadline = Instant::now() + timeout;
        self.subscribe(RTNLGRP_LINK)?;
        let result = (|| loop {
            self.clear_events();
            let link = self.link_by_index(index)?;
            if ready(&link) {
                return Ok(link);
            }
            if self.wait_event(deadline)?.is_none() {
                return Err(Error::Timeout {
                    what: format!(
                        "link {} (#{index}), last state {:?}",
                        link.name, link.oper_state
                    ),
                    waited: timeout,
                });
            }
        })();
        let left = self.unsubscribe(RTNLGRP_LINK);
        let link = result?;
        left?;
        Ok(link)
    }

    /// Waits until link `index` is operationally up (`IFLA_OPERSTATE` up,
    /// or `IFF_UP | IFF_LOWER_UP` for drivers that report "unknown").
    pub fn wait_oper_up(&mut self, index: u32, timeout: Duration) -> Result<LinkInfo> {
        self.wait_link(index, timeout, |l| {
            l.oper_state == OperState::Up
                || (l.oper_state == OperState::Unknown && l.up && l.lower_up)
        })
    }
}
