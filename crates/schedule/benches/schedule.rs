//! How fast the engine gives instants.
//!
//! `nice -n 19 cargo bench -p hospital-schedule` — the target is under 1 µs for the next
//! occurrence of a step (steady-state `Iterator::next` of an open-ended step); the year
//! of a four-times-daily step (1,460 instants) shows the cost of a whole course.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use hospital_schedule::Step;
use hospital_steps::{ClockTime, Duration, Schedule};
use jiff::tz::TimeZone;

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

fn start() -> jiff::Timestamp {
    jiff::Timestamp::from_second(1_772_884_800).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    // 2026-03-07T12:00:00Z
}

fn step(schedule: Schedule, duration: Option<Duration>) -> Step {
    Step::new(schedule, duration, start(), zone("America/New_York"))
}

/// `Iterator::next` on a running iterator, started again every 10,000 instants so the dates
/// stay in this century (a few years of a daily step) rather than run on to the year 9999.
fn steady_next(b: &mut criterion::Bencher<'_>, step: &Step) {
    let mut it = step.occurrences();
    let mut given = 0u32;
    b.iter(|| {
        given += 1;
        if given == 10_000 {
            given = 0;
            it = step.occurrences();
        }
        black_box(it.next())
    });
}

fn next_occurrence(c: &mut Criterion) {
    let times = ["08:00", "13:30", "21:00"]
        .iter()
        .filter_map(|t| t.parse::<ClockTime>().ok())
        .collect();
    let (Ok(four), Ok(fixed), Ok(interval)) = (
        Schedule::times_per_day(4),
        Schedule::fixed_times(times),
        Schedule::every_hours(8),
    ) else {
        return;
    };
    let mut group = c.benchmark_group("schedule/next");
    for (name, schedule) in [
        ("times_per_day_4", four),
        ("fixed_times_3", fixed),
        ("interval_8h", interval),
    ] {
        let s = step(schedule, None);
        group.bench_function(name, |b| steady_next(b, &s));
    }
    group.finish();
}

fn a_year(c: &mut Criterion) {
    let (Ok(four), Ok(year)) = (Schedule::times_per_day(4), Duration::days(365)) else {
        return;
    };
    let s = step(four, Some(year));
    c.bench_function("schedule/year_of_times_per_day_4", |b| {
        b.iter(|| {
            black_box(&s)
                .occurrences()
                .fold(0u64, |n, t| n ^ t.as_second() as u64)
        });
    });
}

criterion_group!(benches, next_occurrence, a_year);
criterion_main!(benches);
