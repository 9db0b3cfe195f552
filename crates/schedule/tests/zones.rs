//! Hand-checked cases for the zones whose daylight-saving rules differ from the others:
//! half-hour shifts, changes at midnight, the southern hemisphere, negative DST in the tz
//! data, odd offsets, a skipped day, a repeated hour, and the in-a-day rules (an instant
//! counts once; instants are taken in time order).
//!
//! Each expected instant was worked out from the zone's rule, not from the engine.

// Test helpers may fail loudly: a panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hospital_schedule::{Step, WakingWindow};
use hospital_steps::{ClockTime, Duration, Schedule};
use jiff::tz::TimeZone;

fn fixed(times: &[&str]) -> Schedule {
    Schedule::fixed_times(times.iter().map(|t| t.parse().unwrap()).collect()).unwrap()
}

/// `duration`: a [`Duration`], or `None` for an open-ended step.
fn step(
    schedule: Schedule,
    duration: impl Into<Option<Duration>>,
    start: &str,
    zone: &str,
) -> Step {
    Step::new(
        schedule,
        duration.into(),
        start.parse().unwrap(),
        TimeZone::get(zone).unwrap(),
    )
}

fn instants(step: &Step) -> Vec<String> {
    step.occurrences()
        .take(10_000)
        .map(|t| t.to_string())
        .collect()
}

fn days(d: u32) -> Duration {
    Duration::days(d).unwrap()
}

#[test]
fn lord_howe_shifts_by_half_an_hour() {
    // Spring, Sunday 4 October 2026: 02:00 +10:30 → 02:30 +11:00.
    let s = step(
        fixed(&["09:00"]),
        days(3),
        "2026-10-02T12:00:00Z",
        "Australia/Lord_Howe",
    );
    assert_eq!(
        instants(&s),
        [
            "2026-10-02T22:30:00Z",
            "2026-10-03T22:00:00Z",
            "2026-10-04T22:00:00Z"
        ]
    );
    // 02:15 is in the 30-minute gap: it moves forward 30 minutes, to 02:45 +11:00.
    let s = step(
        fixed(&["02:15", "09:00"]),
        days(2),
        "2026-10-03T14:00:00Z",
        "Australia/Lord_Howe",
    );
    assert_eq!(
        instants(&s),
        [
            "2026-10-03T15:45:00Z",
            "2026-10-03T22:00:00Z",
            "2026-10-04T15:15:00Z",
            "2026-10-04T22:00:00Z"
        ]
    );
    // Autumn, Sunday 5 April 2026: 02:00 +11:00 → 01:30 +10:30; 01:45 twice, the first.
    let s = step(
        fixed(&["01:45"]),
        days(2),
        "2026-04-04T12:00:00Z",
        "Australia/Lord_Howe",
    );
    assert_eq!(
        instants(&s),
        ["2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"]
    );
}

#[test]
fn havana_changes_at_midnight() {
    // Sunday 8 March 2026: 00:00 −05:00 → 01:00 −04:00; 00:30 → 01:30 CDT.
    let s = step(
        fixed(&["00:30"]),
        days(2),
        "2026-03-07T12:00:00Z",
        "America/Havana",
    );
    assert_eq!(
        instants(&s),
        ["2026-03-08T05:30:00Z", "2026-03-09T04:30:00Z"]
    );
    // Sunday 1 November 2026: 01:00 −04:00 → 00:00 −05:00; 00:30 twice, the first.
    let s = step(
        fixed(&["00:30"]),
        days(2),
        "2026-10-31T12:00:00Z",
        "America/Havana",
    );
    assert_eq!(
        instants(&s),
        ["2026-11-01T04:30:00Z", "2026-11-02T05:30:00Z"]
    );
}

#[test]
fn sydney_is_the_southern_hemisphere() {
    // Spring forward Sunday 4 October 2026, 02:00 → 03:00 (+10 → +11).
    let s = step(
        fixed(&["02:30", "08:00"]),
        days(2),
        "2026-10-03T12:00:00Z",
        "Australia/Sydney",
    );
    assert_eq!(
        instants(&s),
        [
            "2026-10-03T16:30:00Z",
            "2026-10-03T21:00:00Z",
            "2026-10-04T15:30:00Z",
            "2026-10-04T21:00:00Z"
        ]
    );
    // Fall back Sunday 5 April 2026, 03:00 → 02:00 (+11 → +10); 02:30 the first.
    let s = step(
        fixed(&["02:30"]),
        days(2),
        "2026-04-04T12:00:00Z",
        "Australia/Sydney",
    );
    assert_eq!(
        instants(&s),
        ["2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"]
    );
}

#[test]
fn sao_paulo_changed_at_midnight_while_it_had_daylight_saving() {
    // Sunday 4 November 2018: 00:00 −03:00 → 01:00 −02:00.
    let s = step(
        fixed(&["00:30"]),
        days(2),
        "2018-11-03T12:00:00Z",
        "America/Sao_Paulo",
    );
    assert_eq!(
        instants(&s),
        ["2018-11-04T03:30:00Z", "2018-11-05T02:30:00Z"]
    );
    // Sunday 17 February 2019: 00:00 −02:00 → Saturday 23:00 −03:00; 23:30 the first.
    let s = step(
        fixed(&["23:30"]),
        days(2),
        "2019-02-16T12:00:00Z",
        "America/Sao_Paulo",
    );
    assert_eq!(
        instants(&s),
        ["2019-02-17T01:30:00Z", "2019-02-18T02:30:00Z"]
    );
}

#[test]
fn dublin_with_negative_daylight_saving_in_the_tz_data() {
    // Sunday 29 March 2026: 01:00 GMT → 02:00 IST; 01:30 → 02:30 IST.
    let s = step(
        fixed(&["01:30", "12:00"]),
        days(2),
        "2026-03-28T13:00:00Z",
        "Europe/Dublin",
    );
    assert_eq!(
        instants(&s),
        [
            "2026-03-29T01:30:00Z",
            "2026-03-29T11:00:00Z",
            "2026-03-30T00:30:00Z",
            "2026-03-30T11:00:00Z"
        ]
    );
    // Sunday 25 October 2026: 02:00 IST → 01:00 GMT; 01:30 twice, the first (IST).
    let s = step(
        fixed(&["01:30"]),
        days(2),
        "2026-10-24T12:00:00Z",
        "Europe/Dublin",
    );
    assert_eq!(
        instants(&s),
        ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    );
}

#[test]
fn odd_offsets_without_daylight_saving_keep_one_utc_time_all_year() {
    for (zone, utc) in [
        ("Asia/Kolkata", "03:30:00Z"),
        ("Asia/Kathmandu", "03:15:00Z"),
    ] {
        let s = step(fixed(&["09:00"]), days(365), "2026-01-01T00:00:00Z", zone);
        let got = instants(&s);
        assert_eq!(got.len(), 365);
        assert_eq!(got[0], format!("2026-01-01T{utc}"));
        assert!(got.iter().all(|t| t.ends_with(utc)), "{zone}");
    }
}

#[test]
fn apia_skipped_friday_30_december_2011() {
    // 29 Dec 23:59:59 −10:00 → 31 Dec 00:00 +14:00. 09:00 on the missing day moves forward
    // by the whole day, to 09:00 on the 31st, which then counts once.
    let expected = [
        "2011-12-28T19:00:00Z",
        "2011-12-29T19:00:00Z",
        "2011-12-30T19:00:00Z",
        "2011-12-31T19:00:00Z",
    ];
    for duration in [days(4), Duration::occurrences(4).unwrap()] {
        let s = step(
            fixed(&["09:00"]),
            duration,
            "2011-12-28T00:00:00Z",
            "Pacific/Apia",
        );
        assert_eq!(instants(&s), expected);
    }
}

#[test]
fn a_repeated_hour_gives_the_first_of_the_two() {
    // Berlin, Sunday 25 October 2026: 03:00 CEST → 02:00 CET.
    let s = step(
        fixed(&["02:30"]),
        days(2),
        "2026-10-24T12:00:00Z",
        "Europe/Berlin",
    );
    assert_eq!(
        instants(&s),
        ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    );
}

#[test]
fn two_times_in_one_gap_count_once_and_the_course_goes_on() {
    // New York, Sunday 8 March 2026: 02:00 → 03:00 EDT is the same instant as 03:00.
    let s = step(
        fixed(&["02:00", "03:00"]),
        days(1),
        "2026-03-08T05:00:00Z",
        "America/New_York",
    );
    assert_eq!(
        instants(&s),
        ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"]
    );
}

#[test]
fn a_gap_can_reorder_the_day_and_instants_come_in_time_order() {
    // 02:30 → 03:30 EDT, after 03:15 EDT.
    let s = step(
        fixed(&["02:30", "03:15"]),
        days(1),
        "2026-03-08T05:00:00Z",
        "America/New_York",
    );
    assert_eq!(
        instants(&s),
        ["2026-03-08T07:15:00Z", "2026-03-08T07:30:00Z"]
    );
}

#[test]
fn intervals_count_elapsed_time_across_a_change() {
    let every = |h: u32| Schedule::every_hours(h).unwrap();
    let s = step(
        every(8),
        Duration::occurrences(3).unwrap(),
        "2026-03-07T20:00:00Z",
        "America/New_York",
    );
    assert_eq!(
        instants(&s),
        [
            "2026-03-07T20:00:00Z",
            "2026-03-08T04:00:00Z",
            "2026-03-08T12:00:00Z"
        ]
    );
    // ⌈D·24/H⌉: every 7 hours for 1 day is 4 doses; yearly for 10 years is 10.
    assert_eq!(
        step(every(7), days(1), "2026-01-01T00:00:00Z", "UTC").count(),
        Some(4)
    );
    assert_eq!(
        step(every(8760), days(3650), "2026-01-01T00:00:00Z", "UTC").count(),
        Some(10)
    );
}

#[test]
fn times_per_day_keeps_local_time_across_spring_forward() {
    let s = step(
        Schedule::times_per_day(2).unwrap(),
        days(2),
        "2026-03-07T12:00:00Z",
        "America/New_York",
    );
    assert_eq!(
        instants(&s),
        [
            "2026-03-07T13:00:00Z",
            "2026-03-08T01:00:00Z",
            "2026-03-08T12:00:00Z",
            "2026-03-09T00:00:00Z"
        ]
    );
}

#[test]
fn a_start_on_a_slot_takes_that_slot() {
    let s = step(
        Schedule::times_per_day(2).unwrap(),
        days(1),
        "2026-09-01T08:00:00Z",
        "UTC",
    );
    assert_eq!(
        instants(&s),
        ["2026-09-01T08:00:00Z", "2026-09-01T20:00:00Z"]
    );
}

#[test]
fn slots_spread_over_the_window_and_a_narrow_window_gives_fewer() {
    let t = |s: &str| s.parse::<ClockTime>().unwrap();
    let s = step(
        Schedule::times_per_day(3).unwrap(),
        days(1),
        "2026-09-01T00:00:00Z",
        "UTC",
    );
    let slots: Vec<String> = s.daily_slots().iter().map(ToString::to_string).collect();
    assert_eq!(slots, ["08:00", "14:00", "20:00"]);
    let narrow = s
        .clone()
        .with_waking_window(WakingWindow::new(t("08:00"), t("08:10")).unwrap());
    let s24 = Step::new(
        Schedule::times_per_day(24).unwrap(),
        Some(days(1)),
        narrow.start(),
        narrow.zone().clone(),
    )
    .with_waking_window(narrow.waking_window());
    assert_eq!(s24.daily_slots().len(), 11);
    assert_eq!(s24.count(), Some(11));
    assert_eq!(instants(&s24).len(), 11);
}

#[test]
fn missed_doses_extend_a_course_but_not_an_open_one() {
    let base = step(
        Schedule::times_per_day(3).unwrap(),
        days(2),
        "2026-09-01T00:00:00Z",
        "UTC",
    );
    assert_eq!(base.clone().with_missed(2).count(), Some(8));
    let open = step(
        Schedule::times_per_day(3).unwrap(),
        None,
        "2026-09-01T00:00:00Z",
        "UTC",
    );
    assert_eq!(open.clone().with_missed(5).count(), None);
    let a: Vec<_> = open.occurrences().take(20).collect();
    let b: Vec<_> = open.with_missed(5).occurrences().take(20).collect();
    assert_eq!(a, b);
}

#[test]
fn the_end_of_the_time_line_ends_the_iterator_without_a_panic() {
    let s = step(
        fixed(&["23:59"]),
        None,
        "9999-12-30T00:00:00Z",
        "Pacific/Kiritimati",
    );
    assert!(instants(&s).len() <= 2);
    // The last local day still gives its slots.
    let s = step(
        fixed(&["00:00"]),
        None,
        "9999-12-30T10:00:00Z",
        "Pacific/Kiritimati",
    );
    assert_eq!(instants(&s), ["9999-12-30T10:00:00Z"]);
    let s = step(
        Schedule::every_hours(8760).unwrap(),
        None,
        "9998-06-01T00:00:00Z",
        "UTC",
    );
    assert_eq!(instants(&s).len(), 2);
}
