//! Human-readable rendering of a [`Verdict`]'s evaluation trace for
//! `policy-test`: one step per line, `list (file:line): restriction =>
//! result`, the deciding step marked with `<== decision`, then a summary.

use crate::{TraceStep, Verdict, STAGE_PARAMS};

/// Index of the step that decided the verdict: the last step that
/// rejected when there is a reply, else the last permit.
fn deciding_step(v: &Verdict) -> Option<usize> {
    let want_reject = v.reply.is_some();
    v.trace.iter().rposition(|s| {
        if want_reject {
            s.result.starts_with("REJECT ")
        } else {
            s.result == "OK"
        }
    })
}

impl Verdict {
    /// The trace step that decided this verdict (the restriction that
    /// rejected, or the last that permitted).
    pub fn decided_by(&self) -> Option<&TraceStep> {
        deciding_step(self).and_then(|i| self.trace.get(i))
    }

    /// The stage's restriction list (`smtpd_client_restrictions`, ...,
    /// or the implicit `smtpd_reject_unlisted_sender` check) that holds
    /// the deciding step, for nested classes and tables too.
    pub fn deciding_list(&self) -> Option<&str> {
        let decided = deciding_step(self)?;
        self.trace[..=decided]
            .iter()
            .rev()
            .map(|s| s.list.as_str())
            .find(|list| {
                STAGE_PARAMS.iter().any(|p| p.name() == *list)
                    || *list == "smtpd_reject_unlisted_sender"
                    || *list == "smtpd_reject_unlisted_recipient"
            })
    }
}

/// Render the trace, one step per line, marking the deciding step.
pub fn render_trace(verdict: &Verdict) -> String {
    let decided = deciding_step(verdict);
    let mut out = String::new();
    for (i, step) in verdict.trace.iter().enumerate() {
        out.push_str(&step.list);
        if let Some((file, line)) = &step.origin {
            out.push_str(&format!(" ({file}:{line})"));
        }
        out.push_str(&format!(": {} => {}", step.restriction, step.result));
        if decided == Some(i) {
            out.push_str("   <== decision");
        }
        out.push('\n');
    }
    match &verdict.reply {
        Some(r) => out.push_str(&format!("result: {r}\n")),
        None if verdict.trace.is_empty() => {
            out.push_str("result: no restrictions apply, accepted\n")
        }
        None => out.push_str("result: accepted\n"),
    }
    if verdict.hangup {
        out.push_str("(connection dropped without reply: HANGUP)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatepost_proto::Reply;

    fn step(list: &str, r: &str, result: &str) -> TraceStep {
        TraceStep {
            list: list.into(),
            restriction: r.into(),
            origin: Some(("main.cf".into(), 12)),
            result: result.into(),
        }
    }

    #[test]
    fn marks_the_deciding_step() {
        let v = Verdict {
            reply: Some(Reply::new(
                554,
                "5.7.1",
                "<x@far.example>: Relay access denied",
            )),
            trace: vec![
                step("smtpd_recipient_restrictions", "permit_mynetworks", "DUNNO"),
                step(
                    "smtpd_recipient_restrictions",
                    "reject_unauth_destination",
                    "REJECT 554 5.7.1 <x@far.example>: Relay access denied",
                ),
            ],
            ..Verdict::default()
        };
        assert_eq!(
            render_trace(&v),
            "smtpd_recipient_restrictions (main.cf:12): permit_mynetworks => DUNNO\n\
             smtpd_recipient_restrictions (main.cf:12): reject_unauth_destination => REJECT 554 5.7.1 <x@far.example>: Relay access denied   <== decision\n\
             result: 554 5.7.1 <x@far.example>: Relay access denied\n"
        );
        let ok = Verdict {
            trace: vec![step("smtpd_relay_restrictions", "permit_mynetworks", "OK")],
            ..Verdict::default()
        };
        assert!(render_trace(&ok)
            .contains("permit_mynetworks => OK   <== decision\nresult: accepted\n"));
    }
}
