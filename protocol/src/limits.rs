//! Bounds on wire values. Each one exists because the mesh stores or forwards the value
//! on behalf of an untrusted agent, so an unbounded value would let one agent exhaust the
//! mesh's memory or disk.

/// Longest blackboard key, in characters (the original's limit).
pub const MAX_KEY_CHARS: usize = 512;

/// Largest blackboard value, as serialized JSON bytes (256 KiB, the original's limit).
pub const MAX_VALUE_BYTES: usize = 262_144;

/// Longest agent id (the original's `^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`).
pub const MAX_AGENT_ID_CHARS: usize = 64;

/// Most capabilities one agent may advertise at registration.
pub const MAX_CAPABILITIES: usize = 200;

/// Longest capability or topic name, in characters.
pub const MAX_NAME_CHARS: usize = 256;
