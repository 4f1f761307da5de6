//! A server configuration directory in a temporary directory: the base
//! `main.cf` every test server starts from (plus the test's own lines), a
//! `master.cf` with one listener on an ephemeral loopback port, and any
//! table or aliases file a test needs beside them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::TestServer;

/// The base main.cf every test server uses; tests append their own lines.
/// DNS goes to a dead loopback port unless a test points `dns_nameservers`
/// at its own test DNS server, so no test ever queries a real name server.
pub fn base_main_cf(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "myhostname = mx.spec.test\n\
         mydomain = spec.test\n\
         mydestination = $myhostname, localhost, spec.test\n\
         queue_directory = {d}/spool\n\
         data_directory = {d}/data\n\
         mail_spool_directory = {d}/mail/\n\
         home_mailbox =\n\
         local_recipient_maps =\n\
         local_mailbox_for_unknown_users = yes\n\
         alias_maps =\n\
         alias_database =\n\
         maillog_file = {d}/maillog\n\
         mynetworks = 127.0.0.1/32\n\
         inet_interfaces = 127.0.0.1\n\
         smtpd_peername_lookup = no\n\
         dns_nameservers = 127.0.0.1:1\n\
         smtpd_error_sleep_time = 0\n\
         queue_run_delay = 1s\n\
         minimal_backoff_time = 1s\n\
         maximal_backoff_time = 2s\n"
    )
}

/// The master.cf of every test server: one smtpd on an ephemeral port.
const TEST_MASTER_CF: &str =
    "# test listener on an ephemeral port\n127.0.0.1:0 inet n - n - - smtpd\n";

/// A configuration directory being prepared for a test server or a CLI run.
pub struct ConfigDir {
    dir: tempfile::TempDir,
}

impl ConfigDir {
    /// The base main.cf and the test master.cf.
    pub fn new() -> Result<ConfigDir> {
        let config = ConfigDir::empty()?;
        config.write_main_cf(&base_main_cf(config.path()))?;
        std::fs::write(config.path().join("master.cf"), TEST_MASTER_CF)
            .context("write master.cf")?;
        Ok(config)
    }

    /// A directory with exactly `main_cf` as its main.cf (no base lines,
    /// no master.cf), for `postconf` and `policy-test` runs.
    pub fn with_main_cf(main_cf: &str) -> Result<ConfigDir> {
        let config = ConfigDir::empty()?;
        config.write_main_cf(main_cf)?;
        Ok(config)
    }

    fn empty() -> Result<ConfigDir> {
        Ok(ConfigDir {
            dir: crate::shared_tempdir()?,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Append `lines` (and a newline) to main.cf.
    pub fn main_cf(self, lines: &str) -> Result<ConfigDir> {
        let mut text = self.read_main_cf()?;
        text.push_str(lines);
        text.push('\n');
        self.write_main_cf(&text)?;
        Ok(self)
    }

    /// Write a file (an access table, an aliases file) into the directory
    /// and return its path, for `hash:PATH`, `texthash:PATH` and the like.
    pub fn file(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.path().join(name);
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
        Ok(path)
    }

    /// Start `gatepost serve` on this directory.
    pub fn start(self, bin: &Path) -> Result<TestServer> {
        TestServer::launch(bin, self.dir)
    }

    fn read_main_cf(&self) -> Result<String> {
        std::fs::read_to_string(self.path().join("main.cf")).context("read main.cf")
    }

    fn write_main_cf(&self, text: &str) -> Result<()> {
        std::fs::write(self.path().join("main.cf"), text).context("write main.cf")
    }
}

/// Replace the first `from` in the main.cf of `dir` by `to`; panics when
/// `from` is not there (a test that edits a line it did not write is wrong).
pub fn edit_main_cf(dir: &Path, from: &str, to: &str) {
    let path = dir.join("main.cf");
    let text = std::fs::read_to_string(&path).expect("read main.cf");
    assert!(text.contains(from), "main.cf has no {from:?}:\n{text}");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write main.cf");
}
