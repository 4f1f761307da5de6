//! Queue errors: I/O failures (with the path involved), corrupt queue files,
//! size limit, unknown queue ids, Postfix's queue where ours was expected.

use std::path::Path;

/// Everything that can go wrong in the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{path}: {}", gatepost_log::io_text(.source))]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}: corrupt queue file: {1}")]
    Corrupt(String, String),
    #[error("message file too big")]
    TooBig,
    #[error("no such queue id: {0}")]
    NoSuchId(String),
    #[error(
        "{dir} is a Postfix queue directory ({evidence}): gatepost cannot read Postfix's \
         queue files and does not run on them; set queue_directory to a new directory \
         and move the mail with \"gatepost queue import-postfix {dir}\" while Postfix is stopped"
    )]
    PostfixQueue { dir: String, evidence: String },
    #[error("{0}: the Postfix mail system is running (its master.pid is locked); stop it first")]
    PostfixRunning(String),
}

impl QueueError {
    /// Wrap an I/O error with the path it concerns.
    pub(crate) fn io(path: &Path, source: std::io::Error) -> QueueError {
        QueueError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// True when the underlying error is "file not found" (the file was
    /// moved or deleted by someone else, e.g. an operator command).
    pub fn is_not_found(&self) -> bool {
        matches!(self, QueueError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Run a blocking closure on tokio's blocking pool; a panicked or cancelled
/// blocking task becomes an I/O error on `path`.
pub async fn blocking<T, F>(path: &Path, f: F) -> Result<T, QueueError>
where
    F: FnOnce() -> Result<T, QueueError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(QueueError::io(path, std::io::Error::other(e.to_string()))),
    }
}

/// Run a short blocking closure (a few page-cache reads and writes, a
/// rename) on the calling runtime thread when another worker can serve
/// the other tasks meanwhile: cheaper than the two thread switches of a
/// trip to the blocking pool. Elsewhere, as [`blocking`].
pub async fn short_blocking<T, F>(path: &Path, f: F) -> Result<T, QueueError>
where
    F: FnOnce() -> Result<T, QueueError> + Send + 'static,
    T: Send + 'static,
{
    here_or_blocking(may_block_briefly(), path, f).await
}

/// Run `f` on the calling thread when `here`, else as [`blocking`].
pub(crate) async fn here_or_blocking<T, F>(here: bool, path: &Path, f: F) -> Result<T, QueueError>
where
    F: FnOnce() -> Result<T, QueueError> + Send + 'static,
    T: Send + 'static,
{
    if here {
        f()
    } else {
        blocking(path, f).await
    }
}

/// Whether the calling task may do short blocking file work (and, when
/// nobody else is flushing the log, one `fdatasync`) on its own thread:
/// only on a runtime with another worker to serve the other tasks
/// meanwhile. Elsewhere (a single-threaded runtime, no runtime) the work
/// goes to a blocking thread.
pub(crate) fn may_block_briefly() -> bool {
    tokio::runtime::Handle::try_current().is_ok_and(|handle| {
        handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
            && handle.metrics().num_workers() >= 2
    })
}

#[cfg(test)]
mod tests {
    use super::may_block_briefly;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn short_work_stays_on_the_thread_when_another_worker_serves() {
        assert!(may_block_briefly());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_single_worker_hands_short_work_to_a_blocking_thread() {
        assert!(!may_block_briefly());
    }

    #[tokio::test]
    async fn a_single_threaded_runtime_hands_short_work_over() {
        assert!(!may_block_briefly());
        assert!(!std::thread::spawn(may_block_briefly).join().unwrap());
    }
}
