//! Event processing at the Vigil edge, between normalisation and the bus: [`aggregate`]
//! collapses showers of identical events, [`anonymize`] pseudonymises what leaves the trust
//! group. Both are pure and deterministic (event time, keyed hashes), so the core correlates
//! the same way whichever edge did the work.

pub mod aggregate;
pub mod anonymize;
pub mod normalize;
