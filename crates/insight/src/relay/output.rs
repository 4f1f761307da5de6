//! The audit's results: one row per try (trick, sender, recipient, replies,
//! verdict), printed as a table or as JSON.

use serde::Serialize;

use super::forms::{Form, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The foreign recipient was accepted.
    Relayed,
    /// The recipient was refused.
    Refused,
    /// MAIL FROM was refused, so the recipient was not tried.
    SenderRefused,
    /// The server hung up or did not answer.
    Error,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Verdict::Relayed => "RELAYED",
            Verdict::Refused => "refused",
            Verdict::SenderRefused => "sender refused",
            Verdict::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Try {
    pub trick: String,
    pub sender: String,
    pub recipient: String,
    pub mail_reply: String,
    pub rcpt_reply: Option<String>,
    pub data_reply: Option<String>,
    pub verdict: Verdict,
}

impl Try {
    pub fn new(form: &Form, mail_reply: String) -> Try {
        Try {
            trick: form.trick.clone(),
            sender: form.sender.clone(),
            recipient: form.recipient.clone(),
            mail_reply,
            rcpt_reply: None,
            data_reply: None,
            verdict: Verdict::Error,
        }
    }

    pub fn failed(form: &Form, why: String) -> Try {
        Try::new(form, why)
    }

    /// The reply that decided the verdict.
    fn deciding_reply(&self) -> &str {
        self.rcpt_reply.as_deref().unwrap_or(&self.mail_reply)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub server: String,
    pub greeting: String,
    pub target: Target,
    pub tries: Vec<Try>,
}

impl Outcome {
    pub fn relayed(&self) -> usize {
        self.count(Verdict::Relayed)
    }

    pub fn count(&self, v: Verdict) -> usize {
        self.tries.iter().filter(|t| t.verdict == v).count()
    }
}

pub fn print_json(outcome: &Outcome) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a> {
        #[serde(flatten)]
        outcome: &'a Outcome,
        relayed: usize,
    }
    let doc = Doc {
        outcome,
        relayed: outcome.relayed(),
    };
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

pub fn print_table(outcome: &Outcome) {
    println!("server:   {}", outcome.server);
    println!("greeting: {}", outcome.greeting);
    println!("names:    {}", outcome.target.names.join(", "));
    let rows: Vec<[String; 5]> = outcome
        .tries
        .iter()
        .map(|t| {
            let mut reply = t.deciding_reply().to_string();
            if let Some(d) = &t.data_reply {
                reply = format!("{reply} | DATA: {d}");
            }
            [
                t.verdict.label().to_string(),
                t.trick.clone(),
                format!("<{}>", t.sender),
                format!("<{}>", t.recipient),
                reply,
            ]
        })
        .collect();
    let header = ["result", "trick", "from", "to", "reply"].map(String::from);
    let width = |i: usize| {
        rows.iter()
            .chain(std::iter::once(&header))
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
    for r in std::iter::once(&header).chain(rows.iter()) {
        println!(
            "{:w0$}  {:w1$}  {:w2$}  {:w3$}  {}",
            r[0], r[1], r[2], r[3], r[4]
        );
    }
    println!(
        "{} tries: {} relayed, {} refused, {} sender refused, {} errors",
        outcome.tries.len(),
        outcome.relayed(),
        outcome.count(Verdict::Refused),
        outcome.count(Verdict::SenderRefused),
        outcome.count(Verdict::Error)
    );
}
