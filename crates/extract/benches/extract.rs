//! How fast the offline extractor reads a note, and that the time grows linearly.
//!
//! `nice -n 19 cargo bench -p hospital-extract` — the target is under 1 ms for a typical
//! 1,000-character note; the 1k/10k/100k group shows the time per character staying flat.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// A typical note: history, findings, medicines with schedules, a list, a PRN, tasks.
const TYPICAL: &str = "Patient seen today with productive cough and fever for 4 days. \
Chest clear on the left, crackles right base. Previously on amoxicillin last winter. \
Start doxycycline 100 mg twice daily for 7 days; the first day take 200 mg. \
Paracetamol 1 g up to four times a day if needed. Continue ramipril 5 mg once daily. \
Salbutamol inhaler 2 puffs q6h for 5 days, then twice daily for a week. \
Check your temperature every morning at 08:00 and call the surgery if it is above 38.5. \
Buy a thermometer today. Book a chest X-ray in 6 weeks. \
Omeprazole, amoxicillin and clarithromycin, all twice daily for 14 days. \
She said \"I will stop all my tablets\". Drink plenty of fluids.";

fn note_of(chars: usize) -> String {
    let mut s = String::with_capacity(chars + TYPICAL.len());
    while s.chars().count() < chars {
        s.push_str(TYPICAL);
        s.push(' ');
    }
    s.chars().take(chars).collect()
}

fn typical(c: &mut Criterion) {
    let note = note_of(1_000);
    c.bench_function("extract/typical_1000_chars", |b| {
        b.iter(|| hospital_extract::extract(black_box(&note)));
    });
}

fn linear(c: &mut Criterion) {
    let mut group = c.benchmark_group("extract/length");
    for chars in [1_000usize, 10_000, 100_000] {
        let note = note_of(chars);
        group.throughput(Throughput::Bytes(note.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(chars), &note, |b, note| {
            b.iter(|| hospital_extract::extract(black_box(note)));
        });
    }
    group.finish();
}

criterion_group!(benches, typical, linear);
criterion_main!(benches);
