//! Sealing and opening a 2,000-byte note, the size of a typical clinical note.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use hospital_crypto::{AssociatedData, Keyring};
use std::hint::black_box;

fn envelope(c: &mut Criterion) {
    let keyring =
        Keyring::from_spec(&format!("k1:{}", Keyring::generate_key().unwrap().as_str())).unwrap();
    let aad = AssociatedData::record(
        "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b",
        "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1c",
        "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1d",
    );
    let note = vec![b'x'; 2_000];
    let sealed = keyring.seal(&note, &aad).unwrap();

    c.bench_function("seal 2000-byte note", |b| {
        b.iter(|| keyring.seal(black_box(&note), black_box(&aad)).unwrap());
    });
    c.bench_function("open 2000-byte note", |b| {
        b.iter(|| keyring.open(black_box(&sealed), black_box(&aad)).unwrap());
    });
    c.bench_function("seal + to JSON + from JSON + open 2000-byte note", |b| {
        b.iter(|| {
            let json = serde_json::to_vec(&keyring.seal(black_box(&note), &aad).unwrap()).unwrap();
            keyring
                .open(&serde_json::from_slice(&json).unwrap(), &aad)
                .unwrap()
        });
    });
}

criterion_group!(benches, envelope);
criterion_main!(benches);
