//! Administration: four-letter words on the client port and server statistics.

pub mod four_letter;
pub mod metrics;
pub mod stats;
