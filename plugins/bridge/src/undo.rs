//! The ADD undo stack: every step that creates something pushes the action
//! that removes it; a failure later in ADD runs them newest first, so a
//! failed ADD leaves nothing behind (including the IPAM reservation).
//!
//! Shared infrastructure (the bridge, its gateway address, `ip_forward`) is
//! never undone: concurrent ADDs may already depend on it.

/// One thing ADD created that a rollback removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Delegated IPAM DEL (releases the reservation).
    IpamDel,
    /// Delete the host end of the veth (the kernel removes the peer too).
    DeleteHostVeth { index: u32, name: String },
    /// Remove this attachment's masquerade rules.
    MasqDel,
    /// Remove this attachment's MAC spoof-check rules.
    SpoofCheckDel,
}

/// A stack of [`Action`]s.
#[derive(Debug, Default)]
pub struct Undo {
    actions: Vec<Action>,
}

impl Undo {
    pub fn new() -> Undo {
        Undo::default()
    }

    /// Records that `action` reverses a step that just succeeded.
    pub fn push(&mut self, action: Action) {
        self.actions.push(action);
    }

    /// The recorded actions, oldest first.
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    /// Runs every action newest first through `run`, continuing after
    /// failures; returns the failures (as text) for the log.
    pub fn rollback<E: std::fmt::Display>(
        self,
        mut run: impl FnMut(&Action) -> Result<(), E>,
    ) -> Vec<String> {
        let mut failed = Vec::new();
        for a in self.actions.iter().rev() {
            if let Err(e) = run(a) {
                failed.push(format!("undo {a:?}: {e}"));
            }
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_runs_newest_first_and_continues_after_failures() {
        let mut u = Undo::new();
        u.push(Action::IpamDel);
        u.push(Action::DeleteHostVeth {
            index: 7,
            name: "veth1".into(),
        });
        u.push(Action::MasqDel);
        let mut seen = Vec::new();
        let failed = u.rollback(|a| {
            seen.push(a.clone());
            if *a == Action::MasqDel {
                Err("boom")
            } else {
                Ok(())
            }
        });
        assert_eq!(seen[0], Action::MasqDel);
        assert_eq!(seen[2], Action::IpamDel);
        assert_eq!(failed.len(), 1);
        assert!(failed[0].contains("boom"));
    }

    #[test]
    fn empty_stack_does_nothing() {
        let failed = Undo::new().rollback(|_| -> Result<(), String> { panic!("nothing to run") });
        assert!(failed.is_empty());
    }
}
