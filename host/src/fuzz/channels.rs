//! What arrives from outside over the network: Telegram updates, Discord gateway payloads
//! and webhook deliveries (body and signature), and the splitting of replies for the chat
//! platforms' length limits.

use serde_json::Value;

use super::{JSON, target};
use crate::channels::discord::gateway::Payload;
use crate::channels::{discord, sanitize, split, telegram};
use crate::webhooks::{self, Hook, signature};

fn bot() -> telegram::User {
    serde_json::from_value(
        serde_json::json!({"id": 42, "is_bot": true, "first_name": "Bot", "username": "the_bot"}),
    )
    .expect("a user")
}

/// What the shared layer does with an inbound text, and the split of a reply.
fn downstream(text: &str) {
    let clean = sanitize::sanitize(text);
    for limit in [32, telegram::LIMIT, 2000] {
        for part in split::split(&clean, limit) {
            assert!(
                split::units(&part) <= limit,
                "a part of {} units over {limit}",
                split::units(&part)
            );
        }
    }
}

#[test]
fn telegram_update() {
    let me = bot();
    target("telegram_update", JSON, |input| {
        let Ok(updates) = serde_json::from_slice::<Vec<telegram::Update>>(input) else {
            return;
        };
        for update in updates {
            if let Some(inbound) = update.message.and_then(|m| telegram::inbound(m, &me)) {
                downstream(&inbound.text);
            }
        }
    });
}

#[test]
fn discord_payload() {
    target("discord_payload", JSON, |input| {
        let Ok(payload) = serde_json::from_slice::<Payload>(input) else {
            return;
        };
        if payload.t.as_deref() != Some("MESSAGE_CREATE") {
            return;
        }
        let Ok(m) = serde_json::from_value::<discord::MessageCreate>(payload.d) else {
            return;
        };
        if let Some(inbound) = discord::inbound(m, "1234") {
            downstream(&inbound.text);
        }
    });
}

#[test]
fn webhook_body() {
    let mut hook = Hook::new("gh", "scout", None);
    hook.instructions = Some("Triage it.".into());
    target("webhook_body", JSON, |input| {
        let message = webhooks::message(&hook, input);
        assert!(
            message.starts_with("Webhook 'gh' received:\n```"),
            "{message}"
        );
        assert!(message.ends_with("Triage it."), "{message}");
        // The body is quoted as JSON only when it is JSON.
        let json = serde_json::from_slice::<Value>(input).is_ok();
        assert_eq!(message.contains("```json\n"), json, "{message}");
        // A signature checks only against its own body and secret.
        let secret = b"s3cret";
        let signed = signature::sign(secret, input);
        signature::verify(secret, input, Some(signed.as_bytes())).expect("its own signature");
        let _ = signature::verify(secret, input, Some(input));
        assert!(signature::verify(b"other", input, Some(signed.as_bytes())).is_err());
    });
}
