//! Fuzz targets for what a skill is handed from outside: its manifest (`skill.yaml`, which a
//! model can write through `create_skill`) and the argument JSON a model sends its tools
//! (read inside the guest by the SDK's `parse_args`). Bolero targets run as tests for
//! `OPENLEGION_FUZZ_SECS` (see `openlegion-fuzz`); corpora in `src/fuzz/__fuzz__/NAME/corpus/`.

mod manifest;
mod skill_args;
