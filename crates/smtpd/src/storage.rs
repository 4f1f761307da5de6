//! Free space on the queue file system, for the `452 4.3.1 Insufficient
//! system storage` check at MAIL FROM: Postfix's smtpd(8) refuses mail
//! when the free space is at most `queue_minfree`, or less than 1.5 times
//! `message_size_limit` (both counted in whole file system blocks).

use gatepost_queue::Queue;

/// What the check needs to know of the file system.
#[derive(Debug, Clone, Copy)]
pub struct FreeSpace {
    pub block_size: u64,
    pub blocks_free: u64,
}

/// `message_size_limit` must fit this many times in the free space.
pub const SPACE_FACTOR: f64 = 1.5;

impl FreeSpace {
    /// Free blocks of `queue`'s file system available to unprivileged
    /// users, or `None` when unknown.
    pub fn of(queue: &Queue) -> Option<FreeSpace> {
        let (block_size, blocks_free) = queue.space_available()?;
        Some(FreeSpace {
            block_size: block_size.max(1),
            blocks_free,
        })
    }

    pub fn bytes(&self) -> u64 {
        self.blocks_free.saturating_mul(self.block_size)
    }

    /// Whether mail must be refused for want of space.
    pub fn insufficient(&self, queue_minfree: u64, message_size_limit: u64) -> bool {
        let blocks = |bytes: u64| bytes / self.block_size;
        blocks(queue_minfree) >= self.blocks_free
            || blocks(message_size_limit) as f64 >= self.blocks_free as f64 / SPACE_FACTOR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_as_smtpd_does() {
        let fs = FreeSpace {
            block_size: 4096,
            blocks_free: 1000,
        };
        // No floor of its own: a small limit fits in little space.
        assert!(!fs.insufficient(0, 4096 * 666));
        assert!(fs.insufficient(0, 4096 * 667));
        assert!(fs.insufficient(4096 * 1000, 0));
        assert!(!fs.insufficient(4096 * 999, 0));
        let empty = FreeSpace {
            block_size: 4096,
            blocks_free: 0,
        };
        assert!(empty.insufficient(0, 0));
    }
}
