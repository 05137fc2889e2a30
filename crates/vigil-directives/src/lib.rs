//! OSSIM directive files, loaded into the typed [`model`].
//!
//! (The loader is being written; the model is the contract between it and the engine.)

pub mod model;

pub use model::*;
