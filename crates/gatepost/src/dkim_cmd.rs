//! `gatepost dkim keygen DOMAIN SELECTOR`: write a DKIM signing key and
//! print the DNS TXT record to publish and the `gatepost_dkim_signing_keys`
//! line that uses it (docs/mail-auth.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Subcommand;
use gatepost_mailauth::{keygen, KeyAlgorithm};

#[derive(Subcommand, Debug)]
pub enum DkimCmd {
    /// Generate a key for DOMAIN and SELECTOR; print its DNS TXT record.
    Keygen {
        domain: String,
        selector: String,
        /// Key type: rsa (2048 bits unless --bits) or ed25519.
        #[arg(long, default_value = "rsa")]
        algorithm: String,
        /// RSA key size.
        #[arg(long, default_value_t = 2048)]
        bits: usize,
        /// Where to write SELECTOR.DOMAIN.key (mode 0600; as root, 0640 with
        /// mail_owner's group).
        #[arg(long, default_value = ".")]
        directory: PathBuf,
    },
}

pub fn run(cfg: &gatepost_config::Config, cmd: DkimCmd) -> Result<ExitCode> {
    match cmd {
        DkimCmd::Keygen {
            domain,
            selector,
            algorithm,
            bits,
            directory,
        } => {
            let algorithm = match algorithm.to_ascii_lowercase().as_str() {
                "rsa" if (1024..=4096).contains(&bits) => KeyAlgorithm::Rsa(bits),
                "rsa" => bail!("--bits {bits}: use 1024 to 4096 (2048 recommended)"),
                "ed25519" => KeyAlgorithm::Ed25519,
                other => bail!("--algorithm {other}: use rsa or ed25519"),
            };
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            let out = keygen(&domain, &selector, algorithm, &directory)?;
            // Run as root, the key is left readable by mail_owner's group:
            // the unprivileged server signs.
            crate::privsep::share_with_mail_owner(cfg, &out.key_file)?;
            println!("; private key written to {}", out.key_file.display());
            println!(
                "; gatepost_dkim_signing_keys entry:  {domain}  {selector}:{}",
                out.key_file.display()
            );
            println!("{}", out.zone_line());
            Ok(ExitCode::SUCCESS)
        }
    }
}
