//! The addresses this MTA receives mail on (`inet_interfaces`,
//! `proxy_interfaces`), for the "mail for X loops back to myself" check.
//! The set is the address rewriter's, so the resolver's idea of a local
//! `[addr]` literal and the SMTP client's loop check always agree.

pub(crate) use gatepost_rewrite::OwnAddresses;

use gatepost_config::Config;

use crate::DeliveryError;

/// Build the set; a name in the lists that does not resolve is a
/// configuration error, as it is for the resolver.
pub(crate) fn own_addresses(cfg: &Config) -> Result<OwnAddresses, DeliveryError> {
    OwnAddresses::from_config(cfg).map_err(|e| DeliveryError::Config(e.to_string()))
}
