//! Properties of the engine over random zones of the tz database, random starts from 2020
//! to 2035 and random schedules, durations, waking windows and missed doses.

// Test helpers may fail loudly: a panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::LazyLock;

use hospital_schedule::{Step, WakingWindow};
use hospital_steps::{ClockTime, ClockTimes, Duration, Schedule};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;
use proptest::prelude::*;
use proptest::sample::Index;

/// Every zone the tz database offers.
static ZONES: LazyLock<Vec<String>> = LazyLock::new(|| {
    jiff::tz::db()
        .available()
        .map(|name| name.to_string())
        .collect()
});

/// 2020-01-01T00:00:00Z and 2036-01-01T00:00:00Z.
const FROM: i64 = 1_577_836_800;
const UNTIL: i64 = 2_082_758_400;

/// Open-ended steps are checked on this many instants.
const OPEN_TAKE: usize = 300;

#[test]
fn the_zones_are_the_whole_tz_database() {
    assert!(ZONES.len() > 300, "only {} zones", ZONES.len());
    assert!(ZONES.iter().any(|z| z == "Australia/Lord_Howe"));
}

fn clock() -> impl Strategy<Value = ClockTime> {
    (0u32..24, 0u32..60).prop_map(|(h, m)| ClockTime::new(h, m).unwrap())
}

fn schedule() -> impl Strategy<Value = Schedule> {
    prop_oneof![
        prop::collection::vec(clock(), 1..=24).prop_map(|times| Schedule::FixedTimes {
            times: ClockTimes::distinct(times).unwrap()
        }),
        (1u32..=24).prop_map(|n| Schedule::times_per_day(n).unwrap()),
        (1u32..=48).prop_map(|h| Schedule::every_hours(h).unwrap()),
        (1u32..=8760).prop_map(|h| Schedule::every_hours(h).unwrap()),
    ]
}

/// `None`: open-ended.
fn duration() -> impl Strategy<Value = Option<Duration>> {
    prop_oneof![
        (1u32..=120).prop_map(|d| Some(Duration::days(d).unwrap())),
        Just(Some(Duration::days(3650).unwrap())),
        (1u32..=2000).prop_map(|n| Some(Duration::occurrences(n).unwrap())),
        Just(None),
    ]
}

fn window() -> impl Strategy<Value = WakingWindow> {
    (clock(), clock())
        .prop_filter("a window ends after it begins", |(a, b)| a != b)
        .prop_map(|(a, b)| WakingWindow::new(a.min(b), a.max(b)).unwrap())
}

fn step() -> impl Strategy<Value = Step> {
    (
        schedule(),
        duration(),
        FROM..UNTIL,
        any::<Index>(),
        window(),
        0u32..5,
    )
        .prop_map(|(schedule, duration, start, zone, window, missed)| {
            let zone = TimeZone::get(zone.get(ZONES.as_slice()).as_str()).unwrap();
            Step::new(
                schedule,
                duration,
                Timestamp::from_second(start).unwrap(),
                zone,
            )
            .with_waking_window(window)
            .with_missed(missed)
        })
}

/// All the instants of a bounded step, or the first few of an open one.
fn instants(step: &Step) -> Vec<Timestamp> {
    match step.count() {
        Some(_) => step.occurrences().collect(),
        None => step.occurrences().take(OPEN_TAKE).collect(),
    }
}

/// A daily instant shows one of the slots' wall times in the zone, and is the first of
/// the two instants if that wall time occurs twice; otherwise it is where a slot in a gap
/// (that day or the day before, for a gap of a whole day) moved forward to.
fn shows_a_requested_wall_time(step: &Step, slots: &[ClockTime], t: Timestamp) -> bool {
    let zone = step.zone();
    let local = zone.to_datetime(t);
    let wall = ClockTime::new(local.hour() as u32, local.minute() as u32).unwrap();
    if local.second() == 0 && slots.contains(&wall) {
        return zone.to_ambiguous_timestamp(local).compatible().unwrap() == t;
    }
    let days = [Some(local.date()), local.date().yesterday().ok()];
    days.into_iter().flatten().any(|date| {
        slots.iter().any(|slot| {
            let wall = jiff::civil::time(slot.hour() as i8, slot.minute() as i8, 0, 0);
            let amb = zone.to_ambiguous_timestamp(date.to_datetime(wall));
            matches!(amb.offset(), AmbiguousOffset::Gap { .. }) && amb.compatible().unwrap() == t
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ascending_distinct_and_from_the_start(step in step()) {
        let got = instants(&step);
        prop_assert!(got.first().is_none_or(|&t| t >= step.start()));
        prop_assert!(got.windows(2).all(|w| w[0] < w[1]), "not strictly ascending");
        prop_assert!(got.iter().all(|t| t.subsec_nanosecond() == 0), "whole seconds");
    }

    #[test]
    fn as_many_as_the_count_rule_says(step in step()) {
        let expected = match (step.duration(), step.schedule()) {
            (None, _) => None,
            (Some(Duration::Occurrences(n)), _) => Some(u64::from(n.get())),
            (Some(Duration::Days(d)), Schedule::Interval { every_hours }) => {
                Some((u64::from(d.get()) * 24).div_ceil(u64::from(every_hours.get())))
            }
            (Some(Duration::Days(d)), _) => {
                Some(u64::from(d.get()) * step.daily_slots().len() as u64)
            }
        }
        .map(|n| n + u64::from(step.missed()));
        prop_assert_eq!(step.count(), expected);
        if let Some(n) = expected {
            prop_assert_eq!(step.occurrences().count() as u64, n);
        } else {
            prop_assert_eq!(step.occurrences().take(OPEN_TAKE).count(), OPEN_TAKE);
        }
    }

    #[test]
    fn missed_adds_exactly_that_many_at_the_end(step in step(), missed in 0u32..10) {
        let base = step.clone().with_missed(0);
        let more = step.with_missed(missed);
        let a = instants(&base);
        let b = instants(&more);
        if base.count().is_some() {
            prop_assert_eq!(b.len(), a.len() + missed as usize);
            prop_assert_eq!(&b[..a.len()], &a[..]);
        } else {
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn daily_instants_show_the_requested_wall_time_unless_it_fell_in_a_gap(step in step()) {
        let slots = step.daily_slots();
        if !slots.is_empty() {
            for t in instants(&step) {
                prop_assert!(
                    shows_a_requested_wall_time(&step, &slots, t),
                    "{} in {:?} is no slot of {:?}",
                    t,
                    step.zone().iana_name(),
                    slots
                );
            }
        }
    }

    #[test]
    fn intervals_are_evenly_spaced_in_elapsed_time(step in step()) {
        if let Schedule::Interval { every_hours } = step.schedule() {
            let got = instants(&step);
            prop_assert_eq!(got.first().copied(), Some(step.start()));
            let every = i64::from(every_hours.get()) * 3600;
            prop_assert!(got.windows(2).all(|w| w[1].as_second() - w[0].as_second() == every));
        }
    }

    #[test]
    fn no_day_of_a_daily_schedule_is_skipped(step in step()) {
        // Every slot of every whole local day between two consecutive instants would have
        // been taken, so two instants are never more than two days (plus a gap) apart.
        if !step.daily_slots().is_empty() {
            let got = instants(&step);
            prop_assert!(got
                .windows(2)
                .all(|w| w[1].as_second() - w[0].as_second() <= 2 * 86_400));
        }
    }
}
