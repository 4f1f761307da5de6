//! Delivery agents: `local` (Maildir / mbox, `alias_maps`), `virtual`
//! (virtual mailboxes), `discard`, `error`, `retry`, and the `smtp` client
//! (`smtp/`: MX lookup, EHLO, pipelining); the dispatcher that calls the
//! agent of each recipient's transport (resolved by the queue manager). The queue manager logs
//! the outcomes (`status=sent (delivered to maildir)` ...).
//!
//! Modules: `dispatch` (the `Dispatcher`), `settings`, `verdict`,
//! `client_env` (client attributes for commands); local:
//! `local`, `expand` (recipient expansion), `alias`, `forward`, `passwd`,
//! `mailbox`, `maildir`, `batch_sync` (one `syncfs` for a batch of
//! Maildir files), `mbox`, `command` (commands), `dotforward`
//! (`.forward` and `:include:` files), `pass` (`mailbox_transport`,
//! `fallback_transport`: a local delivery handed to another transport),
//! `mbox_lock` (mailbox locks), `pipe` (pipe(8) transports), `content`
//! (the copy with its delivery headers), `privs` (file ownership),
//! `safe_open` (Postfix's safe_open()); `virtual_mailbox` (virtual);
//! `smtp` (the SMTP client). Privilege separation: `helper` (the
//! privileged local delivery helper and the server's `HelperPool`),
//! `store_process` (each store with the user's rights), `store_pool` (the
//! helper's running store processes, one per owner), `wire` (their
//! message format).
#![forbid(unsafe_code)]

mod alias;
mod batch_sync;
mod client_env;
mod command;
mod content;
mod dispatch;
mod dotforward;
mod expand;
mod forward;
mod helper;
mod local;
mod mailbox;
mod maildir;
mod mbox;
mod mbox_lock;
mod pass;
mod passwd;
mod pipe;
mod privs;
mod safe_open;
mod settings;
mod smtp;
mod store_pool;
mod store_process;
mod verdict;
mod virtual_mailbox;
mod wire;

use std::collections::HashSet;
use std::sync::Arc;

use gatepost_config::{params, Config, Param};
use gatepost_qmgr::DeliveryAgent;
use gatepost_queue::Queue;
use gatepost_rewrite::Rewriter;
use gatepost_table::{open_alias_table, open_table, MapList};

pub use crate::helper::{run_helper, HelperPool};
pub use crate::store_process::run_store_process;

use crate::dispatch::Dispatcher;
use crate::local::{LocalAgent, LocalExpander};
use crate::pipe::PipeAgent;
use crate::settings::Settings;
use crate::smtp::SmtpAgent;
use crate::virtual_mailbox::VirtualAgent;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("configuration error: {0}")]
    Config(String),
}

/// A message's content, read once per delivery request and shared by all
/// local and virtual deliveries.
#[derive(Debug)]
pub(crate) struct MessageContent {
    pub data: Arc<Vec<u8>>,
    /// Lower-cased `Delivered-To:` header addresses (loop detection).
    pub delivered_to: HashSet<String>,
    /// The submitting client's attributes stored with the message.
    pub client: gatepost_queue::ClientFacts,
}

impl MessageContent {
    pub fn new(data: Vec<u8>, client: gatepost_queue::ClientFacts) -> MessageContent {
        let delivered_to = content::delivered_to_headers(&data);
        MessageContent {
            data: Arc::new(data),
            delivered_to,
            client,
        }
    }
}

/// Build the dispatcher for this configuration.
///
/// Tables that cannot be opened do not stop the build: recipients whose
/// lookups reach them are deferred (as Postfix does), and a warning is
/// logged. Only malformed parameter values are errors. With `helper`
/// (privilege separation), local and virtual deliveries are the helper's.
pub fn build_agent(
    cfg: &Config,
    queue: Arc<Queue>,
    rewriter: Arc<Rewriter>,
    helper: Option<Arc<HelperPool>>,
) -> Result<Arc<dyn DeliveryAgent>, DeliveryError> {
    let settings = Settings::from_config(cfg)?;
    let smtp = SmtpAgent::from_config(cfg, smtp::default_resolver(cfg))?;
    let lmtp = SmtpAgent::lmtp_from_config(cfg, smtp::lmtp_resolver(cfg))?;
    Ok(Arc::new(build_dispatcher(
        cfg,
        settings,
        (smtp, lmtp),
        queue,
        rewriter,
        helper,
    )))
}

/// Build with an explicit password file (tests).
#[cfg(test)]
fn build_with_passwd(
    cfg: &Config,
    passwd: &std::path::Path,
    queue: Arc<Queue>,
    rewriter: Arc<Rewriter>,
) -> Dispatcher {
    let mut settings = Settings::from_config(cfg).expect("settings");
    settings.passwd_file = passwd.to_path_buf();
    let smtp = SmtpAgent::from_config(cfg, smtp::default_resolver(cfg)).expect("smtp settings");
    let lmtp = SmtpAgent::lmtp_from_config(cfg, smtp::lmtp_resolver(cfg)).expect("lmtp settings");
    build_dispatcher(cfg, settings, (smtp, lmtp), queue, rewriter, None)
}

fn build_dispatcher(
    cfg: &Config,
    settings: Settings,
    (smtp, lmtp): (SmtpAgent, SmtpAgent),
    queue: Arc<Queue>,
    rewriter: Arc<Rewriter>,
    helper: Option<Arc<HelperPool>>,
) -> Dispatcher {
    let (expander, virtual_agent, pipe) = build_expanders(cfg, settings, rewriter, helper.clone());
    Dispatcher {
        local: LocalAgent {
            expander: Arc::new(expander),
            queue,
            helper,
        },
        virtual_agent,
        pipe,
        smtp,
        smtp_transports: cfg.smtp_transports().to_vec(),
        lmtp,
        lmtp_transports: cfg.lmtp_transports().to_vec(),
    }
}

/// The local expansion, the virtual agent with their tables, and the
/// pipe(8) services.
fn build_expanders(
    cfg: &Config,
    settings: Settings,
    rewriter: Arc<Rewriter>,
    helper: Option<Arc<HelperPool>>,
) -> (LocalExpander, VirtualAgent, PipeAgent) {
    let settings = Arc::new(settings);
    let alias_specs = cfg.get(&params::ALIAS_MAPS);
    let aliases = MapList::open(
        "local",
        params::ALIAS_MAPS.name(),
        &alias_specs,
        open_alias_table,
    );
    // Tables shared with alias_maps are in aliases(5) format.
    let recipient_specs = cfg.get(&params::LOCAL_RECIPIENT_MAPS);
    let recipient_maps = MapList::open(
        "local",
        params::LOCAL_RECIPIENT_MAPS.name(),
        &recipient_specs,
        |spec| {
            if alias_specs.iter().any(|a| a == spec) {
                open_alias_table(spec)
            } else {
                open_table(spec)
            }
        },
    );
    let open = |param: &Param<Vec<String>>| {
        MapList::open("virtual", param.name(), &cfg.get(param), open_table)
    };
    let local_maps = |param: &Param<Vec<String>>| {
        MapList::open("local", param.name(), &cfg.get(param), open_table)
    };
    let local = LocalExpander {
        settings: Arc::clone(&settings),
        aliases,
        recipient_maps,
        mailbox_command_maps: MapList::open(
            "local",
            params::MAILBOX_COMMAND_MAPS.name(),
            &cfg.get(&params::MAILBOX_COMMAND_MAPS),
            open_table,
        ),
        mailbox_transport_maps: local_maps(&params::MAILBOX_TRANSPORT_MAPS),
        fallback_transport_maps: local_maps(&params::FALLBACK_TRANSPORT_MAPS),
        rewriter,
    };
    let virtual_agent = VirtualAgent {
        settings: Arc::clone(&settings),
        mailbox_maps: open(&params::VIRTUAL_MAILBOX_MAPS),
        uid_maps: open(&params::VIRTUAL_UID_MAPS),
        gid_maps: open(&params::VIRTUAL_GID_MAPS),
        helper,
    };
    let pipe = PipeAgent {
        settings,
        services: cfg.pipe_services().to_vec(),
        helper: virtual_agent.helper.clone(),
    };
    (local, virtual_agent, pipe)
}

#[cfg(test)]
mod tests;
