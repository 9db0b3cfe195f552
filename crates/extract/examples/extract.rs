//! Reads one note on stdin and prints its steps as JSON: the offline extractor alone, for
//! scoring it quickly (`score.py FILE -- target/debug/examples/extract`) without building a
//! service.

// An example may fail loudly on I/O: it is a developer's tool, not service code.
#![allow(clippy::expect_used)]

use std::io::Read;

fn main() {
    let mut note = String::new();
    std::io::stdin()
        .read_to_string(&mut note)
        .expect("a note as UTF-8 on stdin");
    let steps = hospital_extract::extract(&note);
    println!(
        "{}",
        serde_json::to_string_pretty(&steps).expect("steps serialize")
    );
}
