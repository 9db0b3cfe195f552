//! Which occurrences of a plan step to materialise next, and with what grace period.
//!
//! Only the next few occurrences of a step live in Redis; more are added as those are sent
//! or resolved. Each batch is computed from the last materialised instant, so an open-ended
//! daily medicine costs the same after ten years as on its first day.

use hospital_schedule::Step;
use hospital_steps::Schedule;
use jiff::Timestamp;

/// One occurrence to materialise: its index in the course, due instant and grace (seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Planned {
    pub n: u32,
    pub due: i64,
    pub grace: i64,
}

/// A plan step's schedule, anchored at its start, in the patient's zone: the engine's
/// [`Step`] (default waking window, no missed doses), materialised a few at a time.
#[derive(Debug, Clone)]
pub struct PlanTimeline(Step);

impl PlanTimeline {
    /// The timeline of a plan step: its schedule and duration as `steps.extracted` carries
    /// them (valid by construction, so nothing to refuse), its start and the patient's zone.
    pub fn new(step: Step) -> Self {
        Self(step)
    }

    /// How many occurrences the course has before any is missed; `None` when open-ended.
    pub fn base_count(&self) -> Option<u64> {
        self.0.count()
    }

    /// Whether the step's times are wall-clock times (they follow the patient's zone).
    pub fn follows_zone(&self) -> bool {
        !matches!(self.0.schedule(), Schedule::Interval { .. })
    }

    /// Instants from `from` on (at or after it), lazily.
    fn instants_from(&self, from: Timestamp) -> impl Iterator<Item = i64> {
        Step::new(self.0.schedule().clone(), None, from, self.0.zone().clone())
            .occurrences()
            .map(Timestamp::as_second)
    }

    /// Up to `want` occurrences starting with index `first`, after the last materialised
    /// instant `after` (none yet: from the start) and, for wall-clock schedules, not before
    /// `not_before` (a time-zone change must not bring back instants already past). The
    /// course ends at index `total` (`None`: never). Each gets `max_grace`, or half the gap
    /// to the following occurrence when that is less.
    pub fn plan(
        &self,
        after: Option<i64>,
        not_before: Option<i64>,
        first: u32,
        total: Option<u64>,
        want: usize,
        max_grace: i64,
    ) -> Vec<Planned> {
        let left = total.map_or(u64::MAX, |t| t.saturating_sub(u64::from(first)));
        let take = usize::try_from(left).unwrap_or(usize::MAX).min(want);
        if take == 0 {
            return Vec::new();
        }
        // One more than needed: the last one's grace depends on the gap to its successor.
        let lookahead = take + 1;
        let start = self.0.start();
        let instants: Vec<i64> = if let Schedule::Interval { every_hours } = self.0.schedule() {
            let every = i64::from(every_hours.get()) * 3600;
            let first_at = after.map_or(start.as_second(), |a| a + every);
            (0..lookahead)
                .map(|i| first_at + every * i64::try_from(i).unwrap_or(0))
                .collect()
        } else {
            let mut from = after.map_or(start.as_second(), |a| a + 1);
            if let Some(floor) = not_before {
                from = from.max(floor);
            }
            let from = Timestamp::from_second(from).unwrap_or(start);
            self.instants_from(from).take(lookahead).collect()
        };
        let has_successor = |i: usize| {
            let n = u64::from(first) + i as u64;
            total.is_none_or(|t| n + 1 < t)
        };
        instants
            .iter()
            .take(take)
            .enumerate()
            .map(|(i, &due)| {
                let grace = match instants.get(i + 1) {
                    Some(&next) if has_successor(i) => max_grace.min((next - due) / 2),
                    _ => max_grace,
                };
                Planned {
                    n: first + u32::try_from(i).unwrap_or(u32::MAX),
                    due,
                    grace,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use jiff::tz::TimeZone;

    use super::*;

    fn timeline(schedule: &str, duration: &str, start: &str, zone: &str) -> PlanTimeline {
        PlanTimeline::new(Step::new(
            serde_json::from_str(schedule).unwrap(),
            serde_json::from_str(duration).unwrap(),
            start.parse().unwrap(),
            TimeZone::get(zone).unwrap(),
        ))
    }

    fn ts(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_second()
    }

    #[test]
    fn batches_continue_where_the_last_ended() {
        let t = timeline(
            r#"{"kind": "fixed_times", "times": ["08:00", "20:00"]}"#,
            r#"{"days": 2}"#,
            "2026-06-01T09:00:00Z",
            "UTC",
        );
        assert_eq!(t.base_count(), Some(4));
        let first = t.plan(None, None, 0, Some(4), 2, 3600);
        assert_eq!(
            first,
            vec![
                Planned {
                    n: 0,
                    due: ts("2026-06-01T20:00:00Z"),
                    grace: 3600
                },
                Planned {
                    n: 1,
                    due: ts("2026-06-02T08:00:00Z"),
                    grace: 3600
                },
            ]
        );
        let rest = t.plan(Some(first[1].due), None, 2, Some(4), 5, 3600);
        assert_eq!(rest.len(), 2);
        assert_eq!(rest[0].due, ts("2026-06-02T20:00:00Z"));
        assert_eq!(rest[1].n, 3);
        assert!(t
            .plan(Some(rest[1].due), None, 4, Some(4), 5, 3600)
            .is_empty());
        // A missed dose makes the course one longer.
        let extra = t.plan(Some(rest[1].due), None, 4, Some(5), 5, 3600);
        assert_eq!(
            extra,
            vec![Planned {
                n: 4,
                due: ts("2026-06-03T20:00:00Z"),
                grace: 3600
            }]
        );
    }

    #[test]
    fn grace_is_at_most_half_the_gap_to_the_next_occurrence() {
        let t = timeline(
            r#"{"kind": "fixed_times", "times": ["08:00", "08:40"]}"#,
            "null",
            "2026-06-01T00:00:00Z",
            "UTC",
        );
        let planned = t.plan(None, None, 0, None, 2, 3600);
        assert_eq!(planned[0].grace, 20 * 60);
        assert_eq!(planned[1].grace, 3600);
    }

    #[test]
    fn intervals_count_elapsed_time_and_ignore_the_floor() {
        let t = timeline(
            r#"{"kind": "interval", "every_hours": 8}"#,
            r#"{"occurrences": 3}"#,
            "2026-03-07T12:00:00Z",
            "America/New_York",
        );
        let planned = t.plan(None, Some(ts("2030-01-01T00:00:00Z")), 0, Some(3), 10, 3600);
        let dues: Vec<i64> = planned.iter().map(|p| p.due).collect();
        assert_eq!(
            dues,
            vec![
                ts("2026-03-07T12:00:00Z"),
                ts("2026-03-07T20:00:00Z"),
                ts("2026-03-08T04:00:00Z")
            ]
        );
        assert!(!t.follows_zone());
    }

    #[test]
    fn wall_clock_times_follow_a_new_zone_from_the_floor_on() {
        let t = timeline(
            r#"{"kind": "fixed_times", "times": ["09:00"]}"#,
            "null",
            "2026-06-01T00:00:00Z",
            "Asia/Tokyo",
        );
        let planned = t.plan(None, Some(ts("2026-06-03T12:00:00Z")), 5, None, 1, 3600);
        assert_eq!(planned[0].due, ts("2026-06-04T00:00:00Z"));
        assert_eq!(planned[0].n, 5);
    }
}
