//! `gatepost queue import-postfix DIR`: move the mail of a stopped Postfix
//! (queue directory `DIR`) into gatepost's queue, printing and logging
//! `import: OLDID -> NEWID` per message, then wake a running queue manager.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use gatepost_queue::{Queue, TriggerRequest};

pub fn import_postfix(queue: &Arc<Queue>, dir: &Path) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the runtime")?;
    let report = runtime
        .block_on(queue.import_postfix(dir))
        .with_context(|| format!("import from {}", dir.display()))?;
    for (old, new, to) in &report.imported {
        eprintln!("import: {old} -> {new} ({to})");
    }
    for line in &report.skipped {
        eprintln!("import: warning: {line}");
    }
    eprintln!(
        "import: {} message{} moved from {}, {} left in place",
        report.imported.len(),
        if report.imported.len() == 1 { "" } else { "s" },
        dir.display(),
        report.skipped.len()
    );
    queue.send_trigger(&[TriggerRequest::ScanIncoming]);
    Ok(if report.skipped.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
