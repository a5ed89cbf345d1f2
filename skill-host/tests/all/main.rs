//! Integration tests of the skill host, one module per topic. Every guest is a real
//! component built from `tests/fixtures/` by `support::fixture`, once per run.

mod authoring;
mod cache;
mod capabilities;
mod compat;
mod limits;
mod loading;
mod memory;
mod process;
mod reload;
mod support;
mod workspace;
