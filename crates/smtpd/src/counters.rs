//! Per-session command counters for Postfix's `disconnect from ...` line:
//! `ehlo=1 mail=2/3 rcpt=6/32 data=1 quit=1 unknown=0/1 commands=12/40`
//! (ok/total shown only when they differ; unused verbs left out).

use gatepost_proto::Verb;

#[derive(Debug, Default, Clone)]
pub struct Counters {
    ok: [u32; 15],
    total: [u32; 15],
    unknown_ok: u32,
    unknown_total: u32,
}

fn index(verb: Verb) -> usize {
    Verb::ALL.iter().position(|v| *v == verb).unwrap_or(0)
}

impl Counters {
    pub fn record(&mut self, verb: Option<Verb>, ok: bool) {
        gatepost_metrics::command(verb.map_or("unknown", |v| v.counter_name()));
        match verb {
            Some(v) => {
                let i = index(v);
                self.total[i] += 1;
                if ok {
                    self.ok[i] += 1;
                }
            }
            None => {
                self.unknown_total += 1;
                if ok {
                    self.unknown_ok += 1;
                }
            }
        }
    }

    /// The counter part of the disconnect line.
    pub fn render(&self) -> String {
        let mut parts = Vec::new();
        let fmt = |name: &str, ok: u32, total: u32| {
            if ok == total {
                format!("{name}={total}")
            } else {
                format!("{name}={ok}/{total}")
            }
        };
        for (i, verb) in Verb::ALL.iter().enumerate() {
            if self.total[i] > 0 {
                parts.push(fmt(verb.counter_name(), self.ok[i], self.total[i]));
            }
        }
        if self.unknown_total > 0 {
            parts.push(fmt("unknown", self.unknown_ok, self.unknown_total));
        }
        let ok: u32 = self.ok.iter().sum::<u32>() + self.unknown_ok;
        let total: u32 = self.total.iter().sum::<u32>() + self.unknown_total;
        parts.push(if ok == total && total > 0 {
            format!("commands={total}")
        } else {
            format!("commands={ok}/{total}")
        });
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_postfix() {
        let mut c = Counters::default();
        assert_eq!(c.render(), "commands=0/0");
        c.record(Some(Verb::Ehlo), true);
        c.record(Some(Verb::Mail), true);
        c.record(Some(Verb::Rcpt), true);
        c.record(Some(Verb::Rcpt), false);
        c.record(None, false);
        c.record(Some(Verb::Quit), true);
        assert_eq!(
            c.render(),
            "ehlo=1 mail=1 rcpt=1/2 quit=1 unknown=0/1 commands=4/6"
        );
    }
}
