pub mod bench;
pub mod compare;
pub mod diagnose;
pub mod inspect_common;
pub mod progress;
pub mod run;
