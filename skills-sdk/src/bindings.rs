//! The raw bindings of `openlegion:skill@0.1.4`, generated once from `wit/skill.wit`.
//!
//! Skills do not use this module directly: the `skill!` macro exports through it and the
//! modules `log`, `workspace`, `http`, `mesh`, `process`, `skills`, `memory` and `browser` wrap its imports. It is public because the
//! exported `export!` macro names it by path (`openlegion_skill_sdk::bindings`), and so that
//! a skill needing the exact WIT types can still reach them without a path to the WIT.
//!
//! The world's `use types.{tool}` puts `Tool` at the root of this module; naming
//! `types::Tool` again with a `use` would collide with it (error E0255).

wit_bindgen::generate!({
    world: "skill",
    path: "../wit",
    pub_export_macro: true,
    default_bindings_module: "::openlegion_skill_sdk::bindings",
});
