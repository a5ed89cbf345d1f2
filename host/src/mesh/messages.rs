//! Routing `POST /mesh/message`: resolve the target, check `can_message`, and queue the
//! message in the target's inbox.

use std::sync::Arc;

use openlegion_protocol::AgentMessage;
use serde::Serialize;

use super::MeshError;
use super::inbox::Inboxes;
use super::registry::Registry;
use crate::auth::Caller;
use crate::permissions::Permissions;

#[derive(Debug)]
pub struct Messages {
    registry: Arc<Registry>,
    permissions: Arc<Permissions>,
    inboxes: Arc<Inboxes>,
}

/// The answer to a routed message.
#[derive(Debug, Serialize)]
pub struct Routed {
    pub queued: bool,
    pub message_id: String,
    /// The agent the message went to (resolved from `capability:<name>` if need be).
    pub target: String,
    pub seq: i64,
}

impl Messages {
    pub fn new(
        registry: Arc<Registry>,
        permissions: Arc<Permissions>,
        inboxes: Arc<Inboxes>,
    ) -> Self {
        Self {
            registry,
            permissions,
            inboxes,
        }
    }

    pub async fn route(
        &self,
        caller: &Caller,
        mut message: AgentMessage,
    ) -> Result<Routed, MeshError> {
        let target =
            self.registry
                .resolve_target(&message.to)
                .ok_or_else(|| MeshError::UnknownTarget {
                    target: message.to.clone(),
                })?;
        let matrix = self.permissions.current();
        let allowed = caller.is_operator()
            || matrix.can_message(caller.id(), &target)
            || matrix.can_message(caller.id(), &message.to);
        if !allowed {
            return Err(MeshError::Forbidden {
                agent: caller.id().into(),
                action: "message",
                target,
            });
        }
        message.from_agent = caller.id().to_owned();
        message.to = target.clone();
        let message_id = message.id.clone();
        let seq = self.inboxes.send(&target, message).await?;
        Ok(Routed {
            queued: true,
            message_id,
            target,
            seq,
        })
    }
}
