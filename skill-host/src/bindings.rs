//! Host bindings for the `skill` world of `wit/skill.wit`, generated once here so every
//! other module names the same types. Imports and exports are async: host functions do
//! I/O (files, the mesh), and async exports let a wall-clock timeout cancel a running call.

wasmtime::component::bindgen!({
    world: "skill",
    path: "../wit",
    imports: { default: async },
    exports: { default: async },
});
