//! Local recipient expansion (Postfix local `recipient.c`, `alias.c`,
//! `token.c`, `resolve.c`, `unknown.c`): turns one local recipient into the
//! deliveries it stands for, without performing them.
//!
//! Per address: the recursion limit (`recipient nesting limit exceeded`),
//! the duplicate filter, mail forwarding loop detection against the
//! message's `Delivered-To:` headers, case folding and
//! `recipient_delimiter` extension split, then `alias_maps` (the full
//! local part first, then without the extension). Alias targets are
//! commands, files, `:include:` files and addresses; commands and files
//! are allowed by origin (`allow_mail_to_commands`, `allow_mail_to_files`:
//! `alias`, `forward`, `include`; else `mail to command is restricted`).
//! A user with a passwd entry and no alias may have a `.forward` file
//! (`forward_path`, see `dotforward`) whose targets replace the mailbox
//! (`\user` or the user's own name in it: the mailbox); its commands and
//! files run with the user's rights. `:include:` files (absolute paths
//! only, else `mail system configuration error`) are read with the rights
//! in effect, and their commands and files run as the file's owner
//! (`default_privs` for root). Addresses that resolve to the `local`
//! transport are expanded
//! again, all others are forwarded. An alias that lists its own name
//! delivers to the user's mailbox. Unaliased names go to the mailbox when
//! the user has a password entry, or, with the gatepost-only
//! `local_mailbox_for_unknown_users = yes` (the embedded mode: every local
//! name is a mailbox), when `local_recipient_maps` is empty or lists the
//! name. Mailbox delivery may be handed to another transport first
//! (`mailbox_transport_maps` by user name, then `mailbox_transport`, for
//! every name that reaches the mailbox step, with or without a passwd
//! entry: Postfix's mailbox.c). Names without a mailbox go, as Postfix's
//! unknown.c, to `fallback_transport_maps`, `fallback_transport`, then
//! `luser_relay` (`$user`, `$local`, `$extension` ... expanded; one that
//! names the recipient itself bounces); `postmaster` and `MAILER-DAEMON`
//! are then discarded with `warning: required alias not found`; anything
//! else bounces with `unknown user: "NAME"`.
//!
//! As with Postfix's default `frozen_delivered_to = yes`, every copy made
//! for one top-level recipient carries that recipient in `Delivered-To:`.

use std::collections::HashSet;

use gatepost_rewrite::{unquote_address, RewriteError, Rewriter};

use crate::alias::{self, AliasTarget};
use crate::content;
use crate::dotforward;
use crate::passwd::{self, PasswdEntry};
use crate::privs::Owner;
use crate::settings::AllowMask;
use crate::settings::Settings;
use crate::verdict::Verdict;
use gatepost_table::{split_address, split_extension, MapList};

/// Postfix's global recursion limit for local expansion.
const MAX_LEVEL: usize = 100;

/// What a local recipient expands into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Leaf {
    /// The user's mailbox.
    Mailbox {
        user: String,
        passwd: Option<PasswdEntry>,
        attrs: RecipientAttrs,
        delivered: String,
    },
    /// `|command` from an alias, `.forward` or `:include:` file.
    Command {
        command: String,
        attrs: RecipientAttrs,
        rights: Rights,
        delivered: String,
    },
    /// `/file/name` (or `/dir/` Maildir) from an alias, `.forward` or
    /// `:include:` file.
    File {
        path: String,
        rights: Rights,
        delivered: String,
    },
    /// A non-local address to resubmit.
    Forward { address: String, delivered: String },
    /// Delivery handed to another transport (`transport[:nexthop]`,
    /// Postfix's deliver_pass()) for this address.
    Pass { service: String, address: String },
    /// Decided during expansion (bounce, deferral, discard).
    Final(Verdict),
}

/// Whose rights a command or file delivery runs with (as root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rights {
    /// Aliases and root-owned `:include:` files: `default_privs`.
    DefaultPrivs,
    /// A user's `.forward` (root's own: `default_privs`).
    User(PasswdEntry),
    /// The owner of an `:include:` file.
    Owner(Owner),
}

/// Where a target came from (`allow_mail_to_commands` and
/// `allow_mail_to_files` classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Alias,
    Forward,
    Include,
}

/// The split-up recipient, exported to commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecipientAttrs {
    pub address: String,
    pub user: String,
    pub local: String,
    pub domain: String,
    pub extension: Option<String>,
}

/// The fixed inputs of an expansion.
pub(crate) struct ExpandContext<'a> {
    pub settings: &'a Settings,
    pub aliases: &'a MapList,
    pub recipient_maps: &'a MapList,
    pub mailbox_transport_maps: &'a MapList,
    pub fallback_transport_maps: &'a MapList,
    pub rewriter: &'a Rewriter,
    /// Lower-cased `Delivered-To:` addresses already in the message.
    pub loop_info: &'a HashSet<String>,
    /// `default_privs` as root (reads `:include:` files of aliases).
    pub default_privs: Option<Owner>,
}

/// Where targets being expanded came from.
struct Source<'a> {
    origin: Origin,
    rights: Rights,
    /// The name whose expansion this is (not looked up again as an alias).
    exp_from: &'a str,
}

struct Expander<'a> {
    ctx: &'a ExpandContext<'a>,
    seen: HashSet<String>,
    leaves: Vec<(String, Leaf)>,
}

/// Expand one local recipient. Each leaf carries a label (the address or
/// target) used when results are combined.
pub(crate) fn expand(ctx: &ExpandContext<'_>, address: &str) -> Vec<(String, Leaf)> {
    let mut ex = Expander {
        ctx,
        seen: HashSet::new(),
        leaves: Vec::new(),
    };
    ex.recipient(address, 1, None, None);
    ex.leaves
}

impl Expander<'_> {
    fn push(&mut self, label: &str, leaf: Leaf) {
        self.leaves.push((label.to_string(), leaf));
    }

    fn recipient(
        &mut self,
        address: &str,
        level: usize,
        delivered: Option<&str>,
        exp_from: Option<&str>,
    ) {
        if level > MAX_LEVEL {
            gatepost_log::warning(
                "local",
                format!("recipient nesting limit exceeded for {address}"),
            );
            self.push(
                address,
                Leaf::Final(Verdict::bounced(
                    "5.4.6",
                    "recipient nesting limit exceeded",
                )),
            );
            return;
        }
        if !self.seen.insert(format!("recipient {level} {address}")) {
            return;
        }
        if content::is_loop(self.ctx.loop_info, address) {
            let why = format!("mail forwarding loop for {address}");
            self.push(address, Leaf::Final(Verdict::bounced("5.4.6", why)));
            return;
        }
        let folded = address.to_lowercase();
        let (local, domain) = split_address(&folded);
        let (user, mut extension) = split_extension(local, &self.ctx.settings.recipient_delimiter);
        let mut local = local;
        if extension.is_some_and(|e| e.contains('/')) {
            gatepost_log::warning("local", format!("address with illegal extension: {local}"));
            extension = None;
            local = user;
        }
        if user.is_empty() {
            let why = format!("null username in \"{address}\"");
            self.push(address, Leaf::Final(Verdict::bounced("5.1.3", why)));
            return;
        }
        let attrs = RecipientAttrs {
            address: address.to_string(),
            user: user.to_string(),
            local: local.to_string(),
            domain: domain.unwrap_or("").to_string(),
            extension: extension.map(str::to_string),
        };
        let delivered = delivered.unwrap_or(address).to_string();

        let mut names = vec![attrs.local.clone()];
        if attrs.extension.is_some() {
            names.push(attrs.user.clone());
        }
        for name in names {
            if exp_from.is_some_and(|from| from.eq_ignore_ascii_case(&name)) {
                continue;
            }
            match self.ctx.aliases.find(&name) {
                Err(err) => {
                    gatepost_log::warning(
                        "local",
                        format!("{err}: alias lookup problem for {name} -- deferring delivery"),
                    );
                    self.push(
                        address,
                        Leaf::Final(Verdict::deferred("4.3.0", "alias database unavailable")),
                    );
                    return;
                }
                Ok(Some(value)) => {
                    self.alias(&name, &value, &attrs, level, &delivered);
                    return;
                }
                Ok(None) => {}
            }
        }
        self.mailbox(&attrs, &delivered, level);
    }

    fn alias(
        &mut self,
        name: &str,
        value: &str,
        attrs: &RecipientAttrs,
        level: usize,
        delivered: &str,
    ) {
        if alias::parse(value).is_empty() {
            gatepost_log::warning(
                "local",
                format!("no recipient in alias lookup result for {name}"),
            );
            self.push(
                &attrs.address,
                Leaf::Final(Verdict::deferred("4.3.0", "alias database unavailable")),
            );
            return;
        }
        let source = Source {
            origin: Origin::Alias,
            rights: Rights::DefaultPrivs,
            exp_from: name,
        };
        self.targets(value, &source, attrs, level, delivered);
    }

    /// Deliver to each target of an alias value, `.forward` or
    /// `:include:` file.
    fn targets(
        &mut self,
        value: &str,
        source: &Source<'_>,
        attrs: &RecipientAttrs,
        level: usize,
        delivered: &str,
    ) {
        // `frozen_delivered_to = yes`: every copy made while expanding this
        // recipient lists the top-level recipient in `Delivered-To:`.
        let delivered = delivered.to_string();
        let settings = self.ctx.settings;
        let allowed = |mask: AllowMask| match source.origin {
            Origin::Alias => mask.alias,
            Origin::Forward => mask.forward,
            Origin::Include => mask.include,
        };
        for target in alias::parse(value) {
            match target {
                AliasTarget::Command(command) => {
                    let label = format!("|{command}");
                    if !allowed(settings.allow_mail_to_commands) {
                        self.push(
                            &label,
                            Leaf::Final(Verdict::bounced("5.7.1", "mail to command is restricted")),
                        );
                    } else if self
                        .seen
                        .insert(format!("command {} {command}", attrs.user))
                    {
                        let leaf = Leaf::Command {
                            command,
                            attrs: attrs.clone(),
                            rights: source.rights.clone(),
                            delivered: delivered.clone(),
                        };
                        self.push(&label, leaf);
                    }
                }
                AliasTarget::File(path) => {
                    if !allowed(settings.allow_mail_to_files) {
                        self.push(
                            &path,
                            Leaf::Final(Verdict::bounced("5.7.1", "mail to file is restricted")),
                        );
                    } else if self.seen.insert(format!("file {path}")) {
                        self.push(
                            &path.clone(),
                            Leaf::File {
                                path,
                                rights: source.rights.clone(),
                                delivered: delivered.clone(),
                            },
                        );
                    }
                }
                AliasTarget::Include(path) => {
                    self.include(&path, source, attrs, level, &delivered);
                }
                AliasTarget::Address(addr) => match addr.strip_prefix('\\') {
                    // `\user` in a .forward: the user's own mailbox.
                    Some(own) if source.origin == Origin::Forward => {
                        let own = own.to_string();
                        self.address(&own, level, &delivered, source.exp_from)
                    }
                    _ => self.address(&addr, level, &delivered, source.exp_from),
                },
            }
        }
    }

    /// `:include:PATH` (Postfix include.c): an absolute path, read with
    /// the rights in effect; its targets get the file owner's rights
    /// (`default_privs` when root owns it) and the `include` class.
    fn include(
        &mut self,
        path: &str,
        source: &Source<'_>,
        attrs: &RecipientAttrs,
        level: usize,
        delivered: &str,
    ) {
        let label = format!(":include:{path}");
        if !self.seen.insert(format!("include {path}")) {
            return;
        }
        let config_error =
            || Leaf::Final(Verdict::bounced("5.3.5", "mail system configuration error"));
        if !path.starts_with('/') {
            gatepost_log::warning("local", format!(":include:{path} uses a relative path"));
            self.push(&label, config_error());
            return;
        }
        let owner = match dotforward::include_owner(path) {
            Ok(owner) => owner,
            Err(why) => {
                gatepost_log::warning("local", why);
                self.push(&label, config_error());
                return;
            }
        };
        let reader = match &source.rights {
            Rights::User(pw) => Some(Owner {
                uid: pw.uid,
                gid: pw.gid,
            }),
            Rights::Owner(o) => Some(*o),
            Rights::DefaultPrivs => self.ctx.default_privs,
        };
        let text = match dotforward::read_as(path, reader) {
            Ok(text) => text,
            Err(err) => {
                gatepost_log::warning(
                    "local",
                    format!(
                        "cannot open include file {path}: {}",
                        gatepost_log::io_text(&err)
                    ),
                );
                self.push(&label, config_error());
                return;
            }
        };
        let rights = if owner.uid == 0 {
            Rights::DefaultPrivs
        } else {
            Rights::Owner(owner)
        };
        let inner = Source {
            origin: Origin::Include,
            rights,
            exp_from: source.exp_from,
        };
        self.targets(
            &dotforward::as_alias_value(&text),
            &inner,
            attrs,
            level + 1,
            delivered,
        );
    }

    /// The user's `.forward` file, when there is one to use: its targets
    /// replace the mailbox delivery. Returns whether it did.
    fn forward(
        &mut self,
        attrs: &RecipientAttrs,
        pw: &PasswdEntry,
        delivered: &str,
        level: usize,
    ) -> bool {
        let paths = dotforward::forward_paths(self.ctx.settings, pw, &|name| match name {
            "user" => Some(attrs.user.clone()),
            "extension" => attrs.extension.clone(),
            "domain" => Some(attrs.domain.clone()),
            "local" | "mailbox" => Some(attrs.local.clone()),
            "recipient" => Some(attrs.address.clone()),
            _ => None,
        });
        let Some(text) = dotforward::find_forward(&paths, pw) else {
            return false;
        };
        let value = dotforward::as_alias_value(&text);
        if alias::parse(&value).is_empty() {
            return false;
        }
        let source = Source {
            origin: Origin::Forward,
            rights: Rights::User(pw.clone()),
            exp_from: &attrs.user,
        };
        self.targets(&value, &source, attrs, level, delivered);
        true
    }

    fn address(&mut self, external: &str, level: usize, delivered: &str, exp_from: &str) {
        let internal = unquote_address(external);
        let canonical = if internal.contains('@') {
            internal
        } else {
            self.ctx.rewriter.canonicalize(&internal)
        };
        match self.ctx.rewriter.resolve(&canonical) {
            Ok(resolved) if resolved.transport == "local" => {
                self.recipient(
                    &resolved.recipient,
                    level + 1,
                    Some(delivered),
                    Some(exp_from),
                );
            }
            Ok(_) => {
                let leaf = Leaf::Forward {
                    address: canonical.clone(),
                    delivered: delivered.to_string(),
                };
                self.push(&canonical, leaf);
            }
            Err(RewriteError::Temporary(_) | RewriteError::TransportMaps { .. }) => {
                self.push(
                    &canonical,
                    Leaf::Final(Verdict::deferred("4.3.0", "address resolver failure")),
                );
            }
            Err(RewriteError::BadAddress(_)) => {
                let why = format!("bad address syntax: {external}");
                self.push(&canonical, Leaf::Final(Verdict::bounced("5.1.3", why)));
            }
            Err(RewriteError::Config(_)) => {
                self.push(
                    &canonical,
                    Leaf::Final(Verdict::deferred(
                        "4.3.5",
                        "mail system configuration error",
                    )),
                );
            }
        }
    }

    fn mailbox(&mut self, attrs: &RecipientAttrs, delivered: &str, level: usize) {
        let user = attrs.user.as_str();
        let address = attrs.address.as_str();
        // A name that could escape the spool directory is nobody's mailbox.
        let unsafe_name =
            user.contains('/') || user.starts_with('.') || user.chars().any(char::is_control);
        if unsafe_name {
            let why = format!("unknown user: \"{user}\"");
            self.push(address, Leaf::Final(Verdict::bounced("5.1.1", why)));
            return;
        }
        let pw = passwd::lookup(&self.ctx.settings.passwd_file, user);
        if let Ok(Some(pw)) = &pw {
            if self.seen.insert(format!("forward {user}"))
                && self.forward(attrs, pw, delivered, level)
            {
                return;
            }
        }
        if !self.seen.insert(format!("mailbox {user}")) {
            return;
        }
        let s = self.ctx.settings;
        let maps = self.ctx.mailbox_transport_maps;
        let param = "mailbox_transport_maps";
        if let Some(leaf) = delegate(maps, param, &s.mailbox_transport, attrs) {
            self.push(address, leaf);
            return;
        }
        match pw {
            Err(err) => {
                gatepost_log::warning(
                    "local",
                    format!("error looking up passwd info for {user}: {err}"),
                );
                self.push(
                    address,
                    Leaf::Final(Verdict::deferred("4.0.0", "user lookup error")),
                );
                return;
            }
            Ok(Some(pw)) => {
                let leaf = Leaf::Mailbox {
                    user: user.to_string(),
                    passwd: Some(pw),
                    attrs: attrs.clone(),
                    delivered: delivered.to_string(),
                };
                self.push(address, leaf);
                return;
            }
            Ok(None) => {}
        }
        let listed = if !self.ctx.settings.mailbox_for_unknown_users {
            Ok(false)
        } else if self.ctx.recipient_maps.is_empty() {
            Ok(true)
        } else {
            let full = format!("{}@{}", attrs.local, attrs.domain);
            self.ctx
                .recipient_maps
                .find_keys(&[full, attrs.local.clone(), user.to_string()])
                .map(|v| v.is_some())
        };
        match listed {
            Err(err) => {
                gatepost_log::warning(
                    "local",
                    format!("{err}: local_recipient_maps lookup problem for {user}"),
                );
                self.push(
                    address,
                    Leaf::Final(Verdict::deferred("4.3.0", "table lookup failure")),
                );
            }
            Ok(true) => {
                let leaf = Leaf::Mailbox {
                    user: user.to_string(),
                    passwd: None,
                    attrs: attrs.clone(),
                    delivered: delivered.to_string(),
                };
                self.push(address, leaf);
            }
            Ok(false) => self.unknown(attrs, delivered, level),
        }
    }

    /// A name with no mailbox (Postfix's unknown.c): `fallback_transport_maps`,
    /// `fallback_transport`, `luser_relay`, the required aliases, a bounce.
    fn unknown(&mut self, attrs: &RecipientAttrs, delivered: &str, level: usize) {
        let s = self.ctx.settings;
        let (user, address) = (attrs.user.as_str(), attrs.address.as_str());
        let maps = self.ctx.fallback_transport_maps;
        let param = "fallback_transport_maps";
        if let Some(leaf) = delegate(maps, param, &s.fallback_transport, attrs) {
            self.push(address, leaf);
            return;
        }
        let unknown_user = || {
            let why = format!("unknown user: \"{user}\"");
            Leaf::Final(Verdict::bounced("5.1.1", why))
        };
        if !s.luser_relay.is_empty() {
            let relay = gatepost_config::expand_macros(&s.luser_relay, &|name| {
                match name {
                    "user" => Some(attrs.user.clone()),
                    "local" | "mailbox" => Some(attrs.local.clone()),
                    "domain" => Some(attrs.domain.clone()),
                    "extension" => attrs.extension.clone(),
                    "recipient" => Some(attrs.address.clone()),
                    "recipient_delimiter" => Some(s.recipient_delimiter.clone()),
                    _ => None,
                }
                .map(|v| crate::command::censor(&v))
            });
            let relay = relay.trim();
            let canonical = match relay.contains('@') {
                true => relay.to_string(),
                false => self.ctx.rewriter.canonicalize(relay),
            };
            // A luser_relay that names the recipient itself would loop.
            if canonical.eq_ignore_ascii_case(address) {
                self.push(address, unknown_user());
            } else {
                self.address(relay, level, delivered, user);
            }
            return;
        }
        if user.eq_ignore_ascii_case("postmaster") || user.eq_ignore_ascii_case("mailer-daemon") {
            gatepost_log::warning("local", format!("required alias not found: {user}"));
            self.push(address, Leaf::Final(Verdict::sent("2.0.0", "discarded")));
            return;
        }
        self.push(address, unknown_user());
    }
}

/// The transport a user's delivery is handed to: the user's entry in
/// `maps` (`mailbox_transport_maps`, `fallback_transport_maps`), else
/// `default` when set (`mailbox_transport`, `fallback_transport`). A table
/// that fails defers (`table lookup failure`).
fn delegate(maps: &MapList, param: &str, default: &str, attrs: &RecipientAttrs) -> Option<Leaf> {
    let pass = |service: &str| Leaf::Pass {
        service: service.trim().to_string(),
        address: attrs.address.clone(),
    };
    match maps.find(&attrs.user) {
        Ok(Some(service)) => Some(pass(&service)),
        Ok(None) if !default.is_empty() => Some(pass(default)),
        Ok(None) => None,
        Err(err) => {
            gatepost_log::warning(
                "local",
                format!("{err}: {param} lookup problem for {}", attrs.user),
            );
            Some(Leaf::Final(Verdict::deferred(
                "4.3.0",
                "table lookup failure",
            )))
        }
    }
}
