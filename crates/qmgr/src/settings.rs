//! Queue manager settings (qmgr(8), docs/queue.md#retries-and-expiry), read through their typed handles: `queue_run_delay`,
//! `minimal_backoff_time`, `maximal_backoff_time`, `maximal_queue_lifetime`,
//! `bounce_queue_lifetime`, `myhostname`, `mail_name`, `myorigin`, `double_bounce_sender`,
//! `bounce_size_limit`, `2bounce_notice_recipient`, `soft_bounce`,
//! `delay_warning_time`, the per-destination limits
//! (`default_destination_concurrency_limit`,
//! `local_destination_concurrency_limit`,
//! `default_destination_recipient_limit`,
//! `local_destination_recipient_limit`), the number of messages in the
//! active queue (`qmgr_message_active_limit`, capped), and the address
//! rewriter (with `transport_maps`) used to resolve recipients and by
//! pickup, which the queue manager starts with [`QmgrSettings::pickup`]
//! (with pickup's `header_size_limit`).

use std::sync::Arc;
use std::time::Duration;

use gatepost_config::{params, Param};
use gatepost_queue::manager::{ContentSigner, PickupSettings};
use gatepost_rewrite::Rewriter;

/// Upper bound on messages delivered at once, whatever
/// `qmgr_message_active_limit` says (each is a task waiting on its
/// destinations' concurrency limits).
const MAX_ACTIVE_CAP: usize = 1000;

/// Queue manager settings, read from the config by `from_config`.
#[derive(Debug, Clone)]
pub struct QmgrSettings {
    /// Deferred-queue scan interval (`queue_run_delay`, 300s).
    pub queue_run_delay: Duration,
    /// `minimal_backoff_time` (300s).
    pub minimal_backoff_time: Duration,
    /// `maximal_backoff_time` (4000s).
    pub maximal_backoff_time: Duration,
    /// `maximal_queue_lifetime` (5d; 0 = one attempt).
    pub maximal_queue_lifetime: Duration,
    /// `bounce_queue_lifetime` (5d) for sender `<>`; capped at
    /// `maximal_queue_lifetime`.
    pub bounce_queue_lifetime: Duration,
    /// `myhostname`: Reporting-MTA, boundary, Message-Id of bounces.
    pub myhostname: String,
    /// `mail_name`: in the `Received:` header of bounces.
    pub mail_name: String,
    /// `myorigin`: domain of MAILER-DAEMON and of unqualified notice addresses.
    pub myorigin: String,
    /// `double_bounce_sender` (`double-bounce`).
    pub double_bounce_sender: String,
    /// `bounce_size_limit` (50000): bytes of the original in a bounce; 0 = all.
    pub bounce_size_limit: u64,
    /// `2bounce_notice_recipient` (`postmaster`).
    pub double_bounce_recipient: String,
    /// `soft_bounce` (no): bounces are turned into deferrals.
    pub soft_bounce: bool,
    /// Messages delivered at the same time.
    pub max_concurrent_messages: usize,
    /// `delay_warning_time` (0 = no delay notices).
    pub delay_warning_time: Duration,
    /// `default_destination_concurrency_limit` (20).
    pub default_destination_concurrency_limit: usize,
    /// `local_destination_concurrency_limit` (2).
    pub local_destination_concurrency_limit: usize,
    /// `default_destination_recipient_limit` (50).
    pub default_destination_recipient_limit: usize,
    /// `local_destination_recipient_limit` (1).
    pub local_destination_recipient_limit: usize,
    /// `header_size_limit` (102400): bytes of one header pickup's cleanup keeps.
    pub header_size_limit: usize,
    /// `content_filter` of main.cf, recorded in what pickup queues.
    pub content_filter: Option<String>,
    /// `non_smtpd_milters`, for what pickup queues (none with
    /// `receive_override_options = no_milters`).
    pub non_smtpd_milters: Option<Arc<gatepost_milter::MilterSettings>>,
    /// Address rewriting for pickup (canonicalisation, virtual aliases) and
    /// for resolving a recipient's transport and next hop (with
    /// `transport_maps`); `None`: bare addresses get `@myorigin` and
    /// recipients are grouped by domain with no transport.
    pub rewriter: Option<Arc<Rewriter>>,
    /// Pickup's header/body checks and MIME settings.
    pub content_rules: Arc<gatepost_cleanup::ContentRules>,
    /// DKIM signing of local submissions (`gatepost_dkim_signing_keys`).
    pub signer: Option<Arc<dyn ContentSigner>>,
}

/// pickup's DKIM signer: the operator's keys; a failure is logged and
/// leaves the message unsigned.
#[derive(Debug)]
struct DkimSigner(gatepost_mailauth::SigningKeys);

impl ContentSigner for DkimSigner {
    fn sign(&self, sender: &str, content: &[u8]) -> Option<String> {
        match self.0.sign(sender, content) {
            Ok(header) => header,
            Err(e) => {
                gatepost_log::warning("pickup", format!("DKIM signing: {e}"));
                None
            }
        }
    }
}

/// `gatepost_dkim_signing_keys`, when set and its table opens.
fn signer(cfg: &gatepost_config::Config) -> Option<Arc<dyn ContentSigner>> {
    let spec = cfg.get(&params::GATEPOST_DKIM_SIGNING_KEYS);
    if spec.trim().is_empty() {
        return None;
    }
    match gatepost_table::open_table(spec.trim()) {
        Ok(table) => Some(Arc::new(DkimSigner(gatepost_mailauth::SigningKeys::new(
            table,
        )))),
        Err(e) => {
            gatepost_log::warning("qmgr", format!("gatepost_dkim_signing_keys: {e}"));
            None
        }
    }
}

impl Default for QmgrSettings {
    /// The registry defaults, with `myhostname` = `localhost` and no
    /// address rewriter.
    fn default() -> QmgrSettings {
        let mut cfg = gatepost_config::Config::defaults();
        cfg.set(params::MYHOSTNAME.name(), "localhost");
        QmgrSettings::read(&cfg, None)
    }
}

impl QmgrSettings {
    pub fn from_config(cfg: &gatepost_config::Config) -> QmgrSettings {
        let rewriter = match Rewriter::from_config(cfg) {
            Ok(r) => Some(Arc::new(r.with_transport_maps(cfg))),
            Err(e) => {
                gatepost_log::warning("qmgr", format!("address rewriting unavailable: {e}"));
                None
            }
        };
        QmgrSettings::read(cfg, rewriter)
    }

    /// The parameters through their handles; a destination limit of 0
    /// means the parameter's default.
    fn read(cfg: &gatepost_config::Config, rewriter: Option<Arc<Rewriter>>) -> QmgrSettings {
        let limit = |param: &Param<usize>| match cfg.get(param) {
            0 => cfg.default_of(param),
            n => n,
        };
        QmgrSettings {
            queue_run_delay: cfg.get(&params::QUEUE_RUN_DELAY),
            minimal_backoff_time: cfg.get(&params::MINIMAL_BACKOFF_TIME),
            maximal_backoff_time: cfg.get(&params::MAXIMAL_BACKOFF_TIME),
            maximal_queue_lifetime: cfg.get(&params::MAXIMAL_QUEUE_LIFETIME),
            bounce_queue_lifetime: cfg.get(&params::BOUNCE_QUEUE_LIFETIME),
            myorigin: cfg.get(&params::MYORIGIN),
            myhostname: cfg.get(&params::MYHOSTNAME),
            mail_name: cfg.get(&params::MAIL_NAME),
            double_bounce_sender: cfg.get(&params::DOUBLE_BOUNCE_SENDER),
            bounce_size_limit: cfg.get(&params::BOUNCE_SIZE_LIMIT),
            double_bounce_recipient: cfg.get(&params::DOUBLE_BOUNCE_NOTICE_RECIPIENT),
            soft_bounce: cfg.get(&params::SOFT_BOUNCE),
            max_concurrent_messages: cfg
                .get(&params::QMGR_MESSAGE_ACTIVE_LIMIT)
                .min(MAX_ACTIVE_CAP),
            delay_warning_time: cfg.get(&params::DELAY_WARNING_TIME),
            default_destination_concurrency_limit: limit(
                &params::DEFAULT_DESTINATION_CONCURRENCY_LIMIT,
            ),
            local_destination_concurrency_limit: limit(
                &params::LOCAL_DESTINATION_CONCURRENCY_LIMIT,
            ),
            default_destination_recipient_limit: limit(
                &params::DEFAULT_DESTINATION_RECIPIENT_LIMIT,
            ),
            local_destination_recipient_limit: limit(&params::LOCAL_DESTINATION_RECIPIENT_LIMIT),
            header_size_limit: cfg.get(&params::HEADER_SIZE_LIMIT),
            content_filter: Some(cfg.get(&params::CONTENT_FILTER)).filter(|f| !f.trim().is_empty()),
            non_smtpd_milters: if cfg
                .get(&params::RECEIVE_OVERRIDE_OPTIONS)
                .iter()
                .any(|o| o.eq_ignore_ascii_case("no_milters"))
            {
                None
            } else {
                gatepost_milter::MilterSettings::from_config(cfg, &params::NON_SMTPD_MILTERS)
                    .map(Arc::new)
            },
            rewriter,
            content_rules: Arc::new(gatepost_cleanup::ContentRules::from_config(cfg)),
            signer: signer(cfg),
        }
    }

    /// Short timers for tests and demos: `queue_run_delay` = `run_delay`,
    /// backoff between `min_backoff` and `max_backoff`.
    pub fn with_fast_retries(
        mut self,
        run_delay: Duration,
        min_backoff: Duration,
        max_backoff: Duration,
    ) -> QmgrSettings {
        self.queue_run_delay = run_delay;
        self.minimal_backoff_time = min_backoff;
        self.maximal_backoff_time = max_backoff;
        self
    }

    /// The queue lifetime for a message from `sender` (`bounce_queue_lifetime`
    /// for the null sender, capped at `maximal_queue_lifetime`).
    pub fn lifetime_for(&self, sender: &str) -> Duration {
        if sender.is_empty() {
            self.bounce_queue_lifetime.min(self.maximal_queue_lifetime)
        } else {
            self.maximal_queue_lifetime
        }
    }

    /// Retry delay for a message of age `age` (docs/queue.md#retries-and-expiry):
    /// clamp(age, minimal_backoff_time, maximal_backoff_time).
    pub fn backoff(&self, age: Duration) -> Duration {
        let min = self.minimal_backoff_time;
        let max = self.maximal_backoff_time.max(min);
        age.clamp(min, max)
    }

    /// Slack when deciding whether a deferred file is due (Postfix takes
    /// files whose mtime is at most now + 1s); never more than the scan
    /// interval, so short test timers stay meaningful.
    pub fn scan_slack(&self) -> Duration {
        Duration::from_secs(1).min(self.queue_run_delay)
    }

    /// Concurrency and recipient limits for a transport.
    pub fn limits_for(&self, transport: &str) -> (usize, usize) {
        if transport == "local" {
            (
                self.local_destination_concurrency_limit.max(1),
                self.local_destination_recipient_limit.max(1),
            )
        } else {
            (
                self.default_destination_concurrency_limit.max(1),
                self.default_destination_recipient_limit.max(1),
            )
        }
    }

    /// Address with `@myorigin` appended when unqualified.
    pub fn qualify(&self, addr: &str) -> String {
        if addr.contains('@') || addr.is_empty() {
            addr.to_string()
        } else {
            format!("{addr}@{}", self.myorigin)
        }
    }

    /// What pickup needs: the names in its `Received:` header and the
    /// address rewriting of local submissions.
    pub fn pickup(&self) -> PickupSettings {
        PickupSettings {
            myhostname: self.myhostname.clone(),
            mail_name: self.mail_name.clone(),
            myorigin: self.myorigin.clone(),
            rewriter: self.rewriter.clone(),
            header_size_limit: self.header_size_limit,
            content_filter: self.content_filter.clone(),
            milters: self.non_smtpd_milters.clone(),
            content_rules: self.content_rules.clone(),
            signer: self.signer.clone(),
        }
    }

    /// Whether `sender` is the double-bounce sender (qualified or not).
    pub fn is_double_bounce_sender(&self, sender: &str) -> bool {
        !sender.is_empty()
            && (sender.eq_ignore_ascii_case(&self.double_bounce_sender)
                || sender.eq_ignore_ascii_case(&self.qualify(&self.double_bounce_sender)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_postfix_parameters() {
        let main_cf = "myhostname = mx.spec.test\nmydomain = spec.test\nmyorigin = $mydomain\n\
                       queue_run_delay = 5s\nminimal_backoff_time = 5s\nmaximal_backoff_time = 20s\n\
                       maximal_queue_lifetime = 40s\nbounce_queue_lifetime = 1h\nbounce_size_limit = 1000\n\
                       soft_bounce = yes\ndelay_warning_time = 4h\n\
                       default_destination_concurrency_limit = 3\nlocal_destination_recipient_limit = 5\n";
        let cfg = gatepost_config::Config::parse_main_cf(main_cf, "main.cf").unwrap();
        let s = QmgrSettings::from_config(&cfg);
        assert_eq!(s.queue_run_delay, Duration::from_secs(5));
        assert_eq!(s.minimal_backoff_time, Duration::from_secs(5));
        assert_eq!(s.maximal_backoff_time, Duration::from_secs(20));
        assert_eq!(s.maximal_queue_lifetime, Duration::from_secs(40));
        assert_eq!(s.lifetime_for(""), Duration::from_secs(40));
        assert_eq!(s.myhostname, "mx.spec.test");
        assert_eq!(s.myorigin, "spec.test");
        assert_eq!(s.bounce_size_limit, 1000);
        assert!(s.soft_bounce);
        assert_eq!(s.delay_warning_time, Duration::from_secs(4 * 3600));
        assert_eq!(s.limits_for("smtp"), (3, 50));
        assert_eq!(s.limits_for("local"), (2, 5));
        assert!(s.rewriter.is_some());
        assert_eq!(s.double_bounce_sender, "double-bounce");
        assert_eq!(s.double_bounce_recipient, "postmaster");

        let d = QmgrSettings::from_config(
            &gatepost_config::Config::parse_main_cf("", "main.cf").unwrap(),
        );
        let dflt = QmgrSettings::default();
        assert_eq!(d.queue_run_delay, dflt.queue_run_delay);
        assert_eq!(d.minimal_backoff_time, dflt.minimal_backoff_time);
        assert_eq!(d.maximal_backoff_time, dflt.maximal_backoff_time);
        assert_eq!(d.maximal_queue_lifetime, dflt.maximal_queue_lifetime);
        assert_eq!(d.bounce_queue_lifetime, dflt.bounce_queue_lifetime);
        assert_eq!(d.bounce_size_limit, 50_000);
        assert!(!d.soft_bounce);
        assert_eq!(d.delay_warning_time, Duration::ZERO);
        assert_eq!(d.limits_for("relay"), (20, 50));
        assert_eq!(d.limits_for("local"), (2, 1));
        assert_eq!(d.max_concurrent_messages, 1000);
    }

    #[test]
    fn backoff_clamps_age() {
        let s = QmgrSettings::default();
        let cases = [
            (0, 300),
            (10, 300),
            (600, 600),
            (3999, 3999),
            (100_000, 4000),
        ];
        for (age, want) in cases {
            assert_eq!(
                s.backoff(Duration::from_secs(age)),
                Duration::from_secs(want)
            );
        }
    }

    #[test]
    fn lifetimes() {
        let mut s = QmgrSettings {
            bounce_queue_lifetime: Duration::from_secs(10 * 86_400),
            ..QmgrSettings::default()
        };
        assert_eq!(s.lifetime_for(""), s.maximal_queue_lifetime);
        s.bounce_queue_lifetime = Duration::from_secs(3600);
        assert_eq!(s.lifetime_for(""), Duration::from_secs(3600));
        assert_eq!(s.lifetime_for("a@b"), s.maximal_queue_lifetime);
    }

    #[test]
    fn double_bounce_sender_matching() {
        let s = QmgrSettings {
            myorigin: "spec.test".into(),
            ..QmgrSettings::default()
        };
        assert!(s.is_double_bounce_sender("double-bounce@spec.test"));
        assert!(s.is_double_bounce_sender("Double-Bounce"));
        assert!(!s.is_double_bounce_sender(""));
        assert!(!s.is_double_bounce_sender("a@spec.test"));
        assert_eq!(s.qualify("postmaster"), "postmaster@spec.test");
    }
}
