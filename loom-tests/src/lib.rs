//! Helpers shared by the loom models in `tests/`. The models only build under
//! `--cfg loom`; see the README for the command.
