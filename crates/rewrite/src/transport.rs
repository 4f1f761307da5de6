//! Transport settings of the address classes (`local_transport`,
//! `virtual_transport`, `relay_transport`, `default_transport`) and the
//! `transport:nexthop` split: an explicit nexthop in the setting overrides
//! the class nexthop (`local:$myhostname`, `error:5.1.1 text`,
//! `smtp:[relay.example]:587`).

/// A `transport[:nexthop]` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TransportSpec {
    pub(crate) transport: String,
    pub(crate) nexthop: Option<String>,
}

impl TransportSpec {
    /// Split at the first `:`; an empty nexthop counts as none.
    pub(crate) fn parse(value: &str) -> TransportSpec {
        let value = value.trim();
        match value.split_once(':') {
            Some((transport, nexthop)) => TransportSpec {
                transport: transport.to_string(),
                nexthop: (!nexthop.is_empty()).then(|| nexthop.to_string()),
            },
            None => TransportSpec {
                transport: value.to_string(),
                nexthop: None,
            },
        }
    }

    /// The (transport, nexthop) pair given the class nexthop.
    pub(crate) fn apply(&self, class_nexthop: &str) -> (String, String) {
        let nexthop = self.nexthop.as_deref().unwrap_or(class_nexthop);
        (self.transport.clone(), nexthop.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let cases = [
            ("local:mx.spec.test", "local", Some("mx.spec.test")),
            ("smtp", "smtp", None),
            ("relay:", "relay", None),
            ("error:no relay in test", "error", Some("no relay in test")),
            (
                "smtp:[relay.example]:587",
                "smtp",
                Some("[relay.example]:587"),
            ),
        ];
        for (value, transport, nexthop) in cases {
            let spec = TransportSpec::parse(value);
            assert_eq!(spec.transport, transport, "{value}");
            assert_eq!(spec.nexthop.as_deref(), nexthop, "{value}");
        }
        let spec = TransportSpec::parse("error:5.1.1 gone");
        assert_eq!(spec.apply("d.test"), ("error".into(), "5.1.1 gone".into()));
        assert_eq!(
            TransportSpec::parse("smtp").apply("d.test"),
            ("smtp".into(), "d.test".into())
        );
    }
}
