//! The open-relay battery: every classic way of smuggling a foreign
//! recipient past a relay check (`%` hack, `!` bang paths, source routes,
//! quoted local parts, nested `@`, IP literals), with the target's own
//! names and addresses substituted in, each tried from a chosen sender and
//! from the null sender.

use std::net::IpAddr;

use serde::Serialize;

/// What the probe learned about the server it talks to.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Target {
    /// Host names: the one the operator gave, the 220 greeting's and the EHLO reply's.
    pub names: Vec<String>,
    /// Addresses: the one connected to.
    pub addrs: Vec<IpAddr>,
}

impl Target {
    pub fn add_name(&mut self, name: &str) {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if looks_like_hostname(&name) && !self.names.contains(&name) {
            self.names.push(name);
        }
    }

    pub fn add_addr(&mut self, addr: IpAddr) {
        if !self.addrs.contains(&addr) {
            self.addrs.push(addr);
        }
    }

    /// Every domain form of the target: its names, then its address literals.
    fn domains(&self) -> Vec<String> {
        let literals = self.addrs.iter().map(|a| match a {
            IpAddr::V4(v4) => format!("[{v4}]"),
            IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
        });
        self.names.iter().cloned().chain(literals).collect()
    }
}

fn looks_like_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.parse::<IpAddr>().is_err()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// One try: the envelope sender and recipient (inside `<>`), and the name
/// of the trick it uses.
#[derive(Debug, Clone, Serialize)]
pub struct Form {
    pub trick: String,
    pub sender: String,
    pub recipient: String,
}

/// Recipient forms for user `user` at foreign domain `to`, via `target`.
pub fn recipients(target: &Target, user: &str, to: &str) -> Vec<(String, String)> {
    let mut out = vec![
        ("plain foreign address".to_string(), format!("{user}@{to}")),
        ("bare % hack".to_string(), format!("{user}%{to}")),
        ("bare bang path".to_string(), format!("{to}!{user}")),
        (
            "bare quoted address".to_string(),
            format!("\"{user}@{to}\""),
        ),
    ];
    for t in target.domains() {
        out.extend([
            ("% hack".to_string(), format!("{user}%{to}@{t}")),
            ("bang path".to_string(), format!("{to}!{user}@{t}")),
            ("source route".to_string(), format!("@{t}:{user}@{to}")),
            ("quoted @".to_string(), format!("\"{user}@{to}\"@{t}")),
            ("quoted %".to_string(), format!("\"{user}%{to}\"@{t}")),
            ("double @".to_string(), format!("{user}@{to}@{t}")),
            (
                "bang path, % hack".to_string(),
                format!("{to}!{user}%{t}@{t}"),
            ),
        ]);
    }
    out
}

/// The whole battery: every recipient form from `from` and from `<>`.
pub fn battery(target: &Target, user: &str, to: &str, from: &str) -> Vec<Form> {
    let rcpts = recipients(target, user, to);
    let mut out = Vec::with_capacity(rcpts.len() * 2);
    for sender in [from, ""] {
        for (trick, recipient) in &rcpts {
            out.push(Form {
                trick: trick.clone(),
                sender: sender.to_string(),
                recipient: recipient.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names_and_literals_are_substituted() {
        let mut t = Target::default();
        t.add_name("MX.Example.ORG.");
        t.add_name("mx.example.org");
        t.add_name("127.0.0.1");
        t.add_addr("127.0.0.1".parse().unwrap());
        t.add_addr("::1".parse().unwrap());
        assert_eq!(t.names, ["mx.example.org"]);
        let r: Vec<String> = recipients(&t, "u", "far.example")
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        for want in [
            "u@far.example",
            "u%far.example@mx.example.org",
            "far.example!u@mx.example.org",
            "far.example!u",
            "@mx.example.org:u@far.example",
            "\"u@far.example\"@mx.example.org",
            "\"u%far.example\"@[127.0.0.1]",
            "u@far.example@[IPv6:::1]",
            "u%far.example@[127.0.0.1]",
        ] {
            assert!(r.iter().any(|x| x == want), "missing {want} in {r:?}");
        }
        let all = battery(&t, "u", "far.example", "a@b.example");
        assert_eq!(all.len(), r.len() * 2);
        assert!(all.iter().any(|f| f.sender.is_empty()));
    }
}
