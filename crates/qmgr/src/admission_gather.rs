//! Admission in groups: a message announced to an idle queue manager
//! waits a little for the ones that follow, so that a trickle of
//! messages (one client sending one after the other) is delivered in
//! groups rather than one by one.
//!
//! Each admitted message costs the delivery side a wake-up of its own
//! (the queue manager's thread, a delivery helper, a store process, the
//! fsyncs of a Maildir delivery); admitted together, messages share them,
//! and the helpers' own gathering (`gatepost_delivery`'s `helper.rs`)
//! finds a group waiting instead of one message. On two cores, the
//! delivery side woken for every message took CPU time and wake-ups the
//! receiving sessions were waiting for: admitting in groups of up to 32
//! within 20 ms took a single session from 878 to 971 accepted messages
//! per second and the whole machine's CPU time per message down by 17%
//! (docs/durability.md, "Delivery in groups").
//!
//! While a group is gathered, the scheduler does not even listen to its
//! channel: the sessions' announcements wake no thread, and the window's
//! end takes them all (thread switches of the delivery side at one
//! session: 3.4 → 1.2 per message; +4% accepted, and +10% at 20
//! sessions, where the delivery side often goes idle between groups).
//! While deliveries run, the end of each one also takes what waits, so a
//! full group goes then rather than at once (at 20 sessions the delivery
//! side's thread switches went from 0.95 to 0.31 per message).
//!
//! The wait never holds a group longer than [`GATHER_WINDOW`] after its
//! first message, ends as soon as [`GATHER_COUNT`] messages wait, and
//! does not apply to what a scan of `incoming` or `deferred` finds: a
//! message is at most 20 ms later in its mailbox, and only when few
//! arrive.

use std::time::Duration;

use tokio::time::Instant;

/// How long the first announced message of a group waits for others.
pub(crate) const GATHER_WINDOW: Duration = Duration::from_millis(20);

/// A group this large is admitted at once.
pub(crate) const GATHER_COUNT: usize = 32;

/// The group being gathered, if any.
#[derive(Debug, Default)]
pub(crate) struct AdmissionGather {
    until: Option<Instant>,
}

impl AdmissionGather {
    /// A message was announced while `waiting` others were waiting to be
    /// admitted: the first of a group starts the clock.
    pub(crate) fn announced(&mut self, waiting: usize, now: Instant) {
        if self.until.is_none() && waiting == 0 {
            self.until = Some(now + GATHER_WINDOW);
        }
    }

    /// Whether admission waits now, with `waiting` announced messages
    /// and `other_work` (a scan to do, deferred messages due) that must
    /// not wait. A group that is complete or past its window ends here.
    pub(crate) fn holds(&mut self, waiting: usize, other_work: bool, now: Instant) -> bool {
        match self.until {
            Some(until) if now < until && waiting < GATHER_COUNT && !other_work => true,
            _ => {
                self.until = None;
                false
            }
        }
    }

    /// When the group being gathered is due, if one is.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_waits_for_its_window_or_its_count_and_never_for_other_work() {
        let t0 = Instant::now();
        let mut g = AdmissionGather::default();
        assert!(!g.holds(0, false, t0), "nothing announced: nothing held");
        g.announced(0, t0);
        assert_eq!(g.deadline(), Some(t0 + GATHER_WINDOW));
        assert!(g.holds(1, false, t0));
        // A later announcement does not move the deadline.
        g.announced(1, t0 + Duration::from_millis(5));
        assert_eq!(g.deadline(), Some(t0 + GATHER_WINDOW));
        assert!(g.holds(2, false, t0 + Duration::from_millis(19)));
        assert!(!g.holds(2, false, t0 + GATHER_WINDOW), "the window is over");
        assert_eq!(g.deadline(), None);

        g.announced(0, t0);
        assert!(
            !g.holds(GATHER_COUNT, false, t0),
            "a full group goes at once"
        );
        g.announced(0, t0);
        assert!(
            !g.holds(1, true, t0),
            "a scan or a due deferred message ends the wait"
        );
        assert_eq!(g.deadline(), None);
    }

    #[test]
    fn messages_already_waiting_start_no_new_group() {
        let t0 = Instant::now();
        let mut g = AdmissionGather::default();
        g.announced(3, t0);
        assert_eq!(g.deadline(), None, "a backlog is admitted as before");
        assert!(!g.holds(4, false, t0));
    }
}
