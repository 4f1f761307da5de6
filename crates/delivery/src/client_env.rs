//! What commands learn about the client that submitted the message, from
//! the attributes stored with it (`gatepost_queue::ClientFacts`): local(8)'s
//! environment for `mailbox_command` and `|command` targets
//! (`CLIENT_HOSTNAME`, `CLIENT_ADDRESS`, `CLIENT_HELO`, `CLIENT_PROTOCOL`,
//! `SASL_METHOD`, `SASL_SENDER`, `SASL_USERNAME`, each only when known, as
//! command.c's EXPORT_REQUEST) and pipe(8)'s macros (`${client_address}`,
//! `${client_helo}`, `${client_hostname}`, `${client_port}`,
//! `${client_protocol}`, `${sasl_method}`, `${sasl_sender}`,
//! `${sasl_username}`), and their form on the helper's pipe.

use gatepost_queue::ClientFacts;

use crate::wire::{Dec, Enc, WireError};

/// local(8)'s exported client variables, in command.c's order.
pub(crate) fn environment(facts: &ClientFacts) -> Vec<(&'static str, String)> {
    [
        ("CLIENT_HOSTNAME", &facts.name),
        ("CLIENT_ADDRESS", &facts.address),
        ("CLIENT_HELO", &facts.helo),
        ("CLIENT_PROTOCOL", &facts.protocol),
        ("SASL_METHOD", &facts.sasl_method),
        ("SASL_SENDER", &facts.sasl_sender),
        ("SASL_USERNAME", &facts.sasl_username),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    .map(|(name, value)| (name, value.clone()))
    .collect()
}

/// A pipe(8) client macro (`None`: not a client macro).
pub(crate) fn pipe_macro(facts: &ClientFacts, name: &str) -> Option<String> {
    let value = match name {
        "client_address" => &facts.address,
        "client_helo" => &facts.helo,
        "client_hostname" => &facts.name,
        "client_port" => &facts.port,
        "client_protocol" => &facts.protocol,
        "sasl_method" => &facts.sasl_method,
        "sasl_sender" => &facts.sasl_sender,
        "sasl_username" => &facts.sasl_username,
        _ => return None,
    };
    Some(value.clone())
}

pub(crate) fn encode(facts: &ClientFacts, e: &mut Enc) {
    for value in [
        &facts.name,
        &facts.address,
        &facts.port,
        &facts.helo,
        &facts.protocol,
        &facts.sasl_method,
        &facts.sasl_username,
        &facts.sasl_sender,
    ] {
        e.str(value);
    }
}

pub(crate) fn decode(d: &mut Dec<'_>) -> Result<ClientFacts, WireError> {
    Ok(ClientFacts {
        name: d.string()?,
        address: d.string()?,
        port: d.string()?,
        helo: d.string()?,
        protocol: d.string()?,
        sasl_method: d.string()?,
        sasl_username: d.string()?,
        sasl_sender: d.string()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_values_are_exported_and_round_trip() {
        let facts = ClientFacts {
            name: "unknown".into(),
            address: "IPv6:2001:db8::1".into(),
            port: "40000".into(),
            helo: "client.example".into(),
            protocol: "ESMTP".into(),
            ..ClientFacts::default()
        };
        let names: Vec<&str> = environment(&facts).iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "CLIENT_HOSTNAME",
                "CLIENT_ADDRESS",
                "CLIENT_HELO",
                "CLIENT_PROTOCOL"
            ]
        );
        assert_eq!(pipe_macro(&facts, "client_port").as_deref(), Some("40000"));
        assert_eq!(pipe_macro(&facts, "sasl_username").as_deref(), Some(""));
        assert_eq!(pipe_macro(&facts, "recipient"), None);
        let mut e = Enc::default();
        encode(&facts, &mut e);
        assert_eq!(decode(&mut Dec::new(&e.0, "test")).unwrap(), facts);
    }
}
