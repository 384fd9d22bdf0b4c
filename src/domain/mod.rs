//! The domain: regions, indicators, events, validation and the statistics of the picture.
//!
//! Plain Rust with no I/O, no tonic and no sled types. Everything here is deterministic so
//! that a rebuild from the log gives identical pictures; it is where the logic is unit-tested.

pub(crate) mod areas;
pub(crate) mod catalog;
pub(crate) mod dispersion;
pub mod event;
pub(crate) mod geo;
pub(crate) mod stats;
pub(crate) mod text;
pub mod validate;

pub use areas::{Division, Municipality, Placement};
pub use catalog::{
    Aggregation, Catalog, Direction, Indicator, IndicatorKind, Region, RegionGroup, Round, Target,
    Theme, NATIONAL_CODE,
};
pub use event::{Event, Hash, Observation, Payload, Status, ZERO_HASH};
