//! Fuzz target: any bytes as a Dockerfile through parse, plan and evaluation (see
//! `drive.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "drive.rs"]
mod drive;

fuzz_target!(|data: &[u8]| drive::drive(data));
