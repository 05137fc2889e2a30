//! What Vigil knows about the protected network: hosts and networks with their asset values,
//! names directives and policies may use, and HOME_NET.

pub mod assets;

pub use assets::{Assets, DEFAULT_ASSET, Host, Network};
