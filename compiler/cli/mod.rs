pub mod bench;
pub mod compare;
pub mod diagnose;
pub mod inspect_common;
pub mod run;
