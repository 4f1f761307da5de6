//! Table-based restrictions: `check_*_access` (and a bare `type:table`,
//! which means the stage's own access check), `check_*_{mx,ns,a}_access`,
//! table types this server does not support, and `check_policy_service`
//! (docs/restrictions.md#access-table-results, #policy-delegation). The
//! lookups are in `access.rs`, `server_access.rs` and `policy_client.rs`.

use crate::dns::ServerKind;
use crate::eval::{Check, Res};
use crate::restriction::{AccessTarget, MapArg, TableRef};

impl Check<'_> {
    pub(super) async fn check_access_restriction(
        &mut self,
        target: AccessTarget,
        arg: &MapArg,
    ) -> Res {
        match arg {
            MapArg::Bad(a) => {
                self.warning(format!(
                    "restriction {}: bad argument \"{a}\": need maptype:mapname",
                    target.command()
                ));
                Err(self.server_error())
            }
            MapArg::Table(t) => self.check_access_target(target, t).await,
        }
    }

    pub(super) async fn check_server_access_restriction(
        &mut self,
        name: &str,
        target: AccessTarget,
        kind: ServerKind,
        arg: &MapArg,
    ) -> Res {
        match arg {
            MapArg::Bad(a) => {
                self.warning(format!(
                    "restriction {name}: bad argument \"{a}\": need maptype:mapname"
                ));
                Err(self.server_error())
            }
            // Boxed: keeps each level of class recursion small.
            MapArg::Table(t) => {
                Box::pin(self.check_server_access_target(name, target, kind, t)).await
            }
        }
    }

    /// A bare `type:table` in a list: the access check of the list's stage.
    pub(super) async fn check_bare_table(
        &mut self,
        t: &TableRef,
        class: &str,
        def_acl: Option<AccessTarget>,
    ) -> Res {
        match def_acl {
            Some(target) => self.check_access_target(target, t).await,
            None => {
                self.warning(format!(
                    "specify one of (check_client_access, check_reverse_client_hostname_access, check_helo_access, check_sender_access, check_recipient_access, check_etrn_access) before {class} restriction \"{}\"",
                    t.spec
                ));
                Err(self.server_error())
            }
        }
    }

    pub(super) fn unsupported_map(&mut self, name: &str) -> Res {
        self.warning(format!(
            "restriction {name} is not supported by this server"
        ));
        Err(self.server_error())
    }

    /// `check_policy_service transport:endpoint`: ask the service, read its
    /// action as an access-table result; when it does not answer, apply
    /// `smtpd_policy_service_default_action`.
    pub(super) async fn check_policy_service(
        &mut self,
        arg: Option<&str>,
        rn: &str,
        class: &'static str,
        def_acl: Option<AccessTarget>,
    ) -> Res {
        let Some(a) = arg.filter(|a| a.contains(':')) else {
            self.warning("restriction check_policy_service must be followed by transport:server");
            return Err(self.server_error());
        };
        let s = &self.p.s;
        let svc = match crate::policy_client::PolicyService::parse(a, &s.policy_defaults) {
            Ok(svc) => svc,
            Err(why) => {
                self.warning(format!("check_policy_service {a}: {why}"));
                return Err(self.server_error());
            }
        };
        let attrs = self.policy_attributes(&svc.policy_context);
        let action = match Box::pin(
            self.p
                .policy_clients
                .query(&svc, &s.queue_directory, &attrs),
        )
        .await
        {
            Ok(action) => action,
            Err(why) => {
                let endpoint = svc.endpoint.split_once(':').map_or("", |(_, e)| e);
                self.warning(format!("problem talking to server {endpoint}: {why}"));
                svc.default_action
                    .clone()
                    .unwrap_or_else(|| s.policy_default_action.clone())
            }
        };
        self.table_result(a, &action, "policy query", rn, class, def_acl)
            .await
    }
}
