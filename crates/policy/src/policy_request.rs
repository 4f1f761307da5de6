//! The attributes of a policy delegation request, in Postfix 3.7.11's
//! order (docs/restrictions.md#policy-delegation). Values the server does not know are sent
//! empty, `encryption_keysize` as 0; `recipient_count` is non-zero only at
//! DATA and END-OF-MESSAGE.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::eval::Check;
use crate::Stage;

static INSTANCE_SEQ: AtomicU64 = AtomicU64::new(0);

impl Check<'_> {
    pub(crate) fn policy_attributes(&self, policy_context: &str) -> Vec<(&'static str, String)> {
        let f = self.facts;
        let count = match self.stage {
            Stage::Data | Stage::EndOfMessage => f.recipient_count.to_string(),
            _ => "0".to_string(),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        // pid.sec.usec.seq in hex, as Postfix's instance attribute.
        let instance = format!(
            "{:x}.{:x}.{:x}.{:x}",
            std::process::id(),
            now.as_secs(),
            now.subsec_micros(),
            INSTANCE_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            ("request", "smtpd_access_policy".to_string()),
            ("protocol_state", self.stage.log_name().to_string()),
            ("protocol_name", f.protocol.clone()),
            ("client_address", f.client_addr.to_string()),
            ("client_name", f.client_name.clone()),
            ("client_port", String::new()),
            ("reverse_client_name", f.reverse_client_name.clone()),
            ("server_address", f.server_addr.to_string()),
            ("server_port", String::new()),
            ("helo_name", opt(&f.helo)),
            ("sender", opt(&f.sender)),
            (
                "recipient",
                self.recipient
                    .clone()
                    .or_else(|| f.recipient.clone())
                    .unwrap_or_default(),
            ),
            ("recipient_count", count),
            ("queue_id", opt(&f.queue_id)),
            ("instance", instance),
            ("size", f.size.to_string()),
            ("etrn_domain", opt(&f.etrn_domain)),
            ("stress", String::new()),
            ("sasl_method", opt(&f.sasl_method)),
            ("sasl_username", opt(&f.sasl_username)),
            ("sasl_sender", String::new()),
            ("ccert_subject", String::new()),
            ("ccert_issuer", String::new()),
            ("ccert_fingerprint", String::new()),
            ("ccert_pubkey_fingerprint", String::new()),
            (
                "encryption_protocol",
                f.encryption
                    .as_ref()
                    .map(|e| e.protocol.clone())
                    .unwrap_or_default(),
            ),
            (
                "encryption_cipher",
                f.encryption
                    .as_ref()
                    .map(|e| e.cipher.clone())
                    .unwrap_or_default(),
            ),
            (
                "encryption_keysize",
                f.encryption.as_ref().map_or(0, |e| e.keysize).to_string(),
            ),
            ("policy_context", policy_context.to_string()),
        ]
    }
}
