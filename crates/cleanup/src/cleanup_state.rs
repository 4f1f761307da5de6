//! What cleanup is told about a message besides its content: where it came
//! from ([`Source`]: an SMTP client in or out of the local header rewrite
//! context, or local submission), the envelope sender, the arrival time,
//! the queue id and the host name; and the address rewriting it applies
//! ([`AddressRewriter`]: trivial-rewrite's canonicalisation, canonical(5)
//! maps and masquerading, and virtual(5) expansion). Parameters honoured (read by the caller): `myhostname`,
//! `local_header_rewrite_clients` (decided by smtpd),
//! `always_add_missing_headers` and `header_size_limit`.

use chrono::{DateTime, Local};
use gatepost_rewrite::{AddressRole, RewriteError, Rewriter};

use crate::content_checks::LogOrigin;
use crate::content_rules::ContentRules;

/// Where a message was submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// An SMTP client; `local_header_rewrite` when it is in the "local"
    /// rewrite context (`local_header_rewrite_clients`).
    Smtp { local_header_rewrite: bool },
    /// sendmail(1) through maildrop and pickup(8): always in the "local"
    /// rewrite context.
    Local {
        /// `sendmail -F` or the login's full name, for an added `From:`.
        full_name: Option<&'a str>,
        /// `sendmail -t`: recipients are taken from `To:`, `Cc:`, `Bcc:`.
        extract_recipients: bool,
    },
}

/// Everything cleanup needs to know about one message but its content.
pub struct CleanupContext<'a> {
    pub source: Source<'a>,
    /// `always_add_missing_headers`.
    pub always_add_missing_headers: bool,
    /// `myhostname`, for an added `Message-Id:`.
    pub myhostname: &'a str,
    pub queue_id: &'a str,
    pub arrival: DateTime<Local>,
    /// The envelope sender as given (internal form; empty for `<>`).
    pub sender: &'a str,
    pub rewriter: &'a dyn AddressRewriter,
    /// `header_size_limit`: bytes of one logical header kept.
    pub header_size_limit: usize,
    /// header/body checks, MIME limits and strictness.
    pub rules: &'a ContentRules,
    /// The submission as the check action log lines show it.
    pub log: LogOrigin<'a>,
}

impl CleanupContext<'_> {
    /// Whether header addresses are rewritten: Postfix's "local" header
    /// rewrite context.
    pub fn rewrites_headers(&self) -> bool {
        match self.source {
            Source::Smtp {
                local_header_rewrite,
            } => local_header_rewrite,
            Source::Local { .. } => true,
        }
    }

    /// Whether missing `Message-Id:`, `Date:`, `From:` are added.
    pub fn adds_missing_headers(&self) -> bool {
        self.rewrites_headers() || self.always_add_missing_headers
    }

    pub(crate) fn extracts_recipients(&self) -> bool {
        matches!(
            self.source,
            Source::Local {
                extract_recipients: true,
                ..
            }
        )
    }

    pub(crate) fn full_name(&self) -> Option<&str> {
        match self.source {
            Source::Local { full_name, .. } => full_name.filter(|n| !n.is_empty()),
            Source::Smtp { .. } => None,
        }
    }
}

/// The address rewriting cleanup applies.
pub trait AddressRewriter: Sync {
    /// Canonical form of an internal-form address (bare names get
    /// `@$myorigin`).
    fn canonicalize(&self, addr: &str) -> String;
    /// `virtual_alias_maps` expansion of a canonical address (the address
    /// itself when nothing matches).
    fn expand_virtual_aliases(&self, addr: &str) -> Result<Vec<String>, RewriteError>;
    /// Canonicalisation, canonical maps and masquerading of an address in
    /// `role`; without maps, canonicalisation only.
    fn rewrite_address(&self, addr: &str, role: AddressRole) -> Result<String, RewriteError> {
        let _ = role;
        Ok(self.canonicalize(addr))
    }
}

impl AddressRewriter for Rewriter {
    fn canonicalize(&self, addr: &str) -> String {
        Rewriter::canonicalize(self, addr)
    }

    fn expand_virtual_aliases(&self, addr: &str) -> Result<Vec<String>, RewriteError> {
        Rewriter::expand_virtual_aliases(self, addr)
    }

    fn rewrite_address(&self, addr: &str, role: AddressRole) -> Result<String, RewriteError> {
        Rewriter::rewrite_address(self, addr, role)
    }
}
