//! `gatepost saslpasswd add|delete|list`: manage the password store that
//! `smtpd_sasl_type = cyrus` checks AUTH against (`gatepost_sasl_passwd_file`).
//! `add` reads the password from the first line of standard input. Run
//! as root, it leaves the store readable by `mail_owner`'s group (mode
//! 0640), as the unprivileged server checks AUTH against it.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use gatepost_config::{params, Config};
use gatepost_sasl::PasswdFile;

#[derive(Subcommand, Debug)]
pub enum SaslpasswdCmd {
    /// Add USER[@REALM] or change its password (read from standard input).
    Add { user: String },
    /// Remove USER[@REALM].
    Delete { user: String },
    /// List the users.
    List,
}

pub fn run(cfg: &Config, cmd: SaslpasswdCmd) -> Result<ExitCode> {
    let store = PasswdFile::new(cfg.get(&params::GATEPOST_SASL_PASSWD_FILE));
    let shown = store.path().display().to_string();
    match cmd {
        SaslpasswdCmd::Add { user } => {
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            if password.is_empty() {
                bail!("empty password (give it on standard input)");
            }
            store
                .set(&user, password)
                .with_context(|| format!("update {shown}"))?;
            crate::privsep::share_with_mail_owner(cfg, store.path())?;
        }
        SaslpasswdCmd::Delete { user } => {
            if !store
                .delete(&user)
                .with_context(|| format!("update {shown}"))?
            {
                eprintln!("gatepost: {user}: not found in {shown}");
                return Ok(ExitCode::from(1));
            }
            crate::privsep::share_with_mail_owner(cfg, store.path())?;
        }
        SaslpasswdCmd::List => {
            for (user, _) in store.entries().with_context(|| format!("read {shown}"))? {
                println!("{user}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
