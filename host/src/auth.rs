//! Identity: bearer tokens and who is calling.
//!
//! Every agent gets a random token when it is registered; the operator (the human, through
//! the CLI) gets one at each mesh start, written 0600 into the state directory. Tokens are
//! 256 random bits, so they are stored only as their SHA-256 (a slow hash would add nothing)
//! and the mesh derives the caller's identity from the token alone: ids written in bodies
//! or query strings are ignored.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openlegion_protocol::AgentId;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of every token this mesh mints, so they are easy to spot (and to redact).
pub const TOKEN_PREFIX: &str = "olt_";

/// The SHA-256 of a token.
pub type TokenHash = [u8; 32];

/// Who is making a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The human operator (CLI, local scripts). Trusted like the mesh itself.
    Operator,
    Agent(AgentId),
}

impl Caller {
    /// The id checked against the permission matrix and recorded as `written_by`/`source`.
    pub fn id(&self) -> &str {
        match self {
            Caller::Operator => "operator",
            Caller::Agent(id) => id.as_str(),
        }
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Caller::Operator)
    }
}

/// A new random token: the prefix and 32 random bytes in URL-safe base64.
pub fn mint_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_token(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// The token table, in memory; the store keeps agent tokens durable.
#[derive(Debug, Default)]
pub struct Tokens {
    by_hash: RwLock<HashMap<TokenHash, Caller>>,
}

impl Tokens {
    pub fn insert(&self, hash: TokenHash, caller: Caller) {
        self.by_hash
            .write()
            .expect("token table lock")
            .insert(hash, caller);
    }

    /// Forgets every token of `agent`.
    pub fn revoke_agent(&self, agent: &AgentId) {
        self.by_hash
            .write()
            .expect("token table lock")
            .retain(|_, c| !matches!(c, Caller::Agent(a) if a == agent));
    }

    pub fn caller(&self, token: &str) -> Option<Caller> {
        self.by_hash
            .read()
            .expect("token table lock")
            .get(&hash_token(token))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_identify_and_revoke() {
        let tokens = Tokens::default();
        let a = AgentId::parse("a").unwrap();
        let t1 = mint_token();
        let t2 = mint_token();
        assert!(t1.starts_with(TOKEN_PREFIX) && t1.len() == TOKEN_PREFIX.len() + 43);
        assert_ne!(t1, t2);
        tokens.insert(hash_token(&t1), Caller::Agent(a.clone()));
        tokens.insert(hash_token(&t2), Caller::Operator);
        assert_eq!(tokens.caller(&t1), Some(Caller::Agent(a.clone())));
        assert_eq!(tokens.caller(&t2), Some(Caller::Operator));
        assert_eq!(tokens.caller("olt_nope"), None);
        tokens.revoke_agent(&a);
        assert_eq!(tokens.caller(&t1), None);
        assert_eq!(tokens.caller(&t2), Some(Caller::Operator));
    }
}
