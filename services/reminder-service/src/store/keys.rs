//! Every Redis key the service writes, in one place. All start with the configured prefix
//! (`REMINDER__REDIS__KEY_PREFIX`, default `hospital:`).
//!
//! | key | type | what |
//! |---|---|---|
//! | `<prefix>user:<user id>` | hash | the service's copy of a user: `role` (`patient`/`doctor`), `timezone` (IANA), `doctor_id` (patients with a doctor; absent otherwise), `assignment_changed_at` (the `changed_at` of the newest assignment applied, RFC 3339 UTC with microseconds), `updated_at` (when this service last changed it) |
//! | `<prefix>event:<event id>` | string `1`, 7-day TTL | an applied event: a redelivery with the same id changes nothing (user events; a `steps.extracted` only when it was ignored as stale, since the note id in `steps:` answers the redelivery of one applied) |
//! | `<prefix>steps:<patient id>` | hash | the patient's current steps: `note_id`, `note_created_at` (RFC 3339 UTC, microseconds, compares as a string), `extractor`, `fallback`, `checklist` and `plan` (step stems, space-separated, in the note's order; absent when empty), `updated_at` |
//! | `<prefix>history:<patient id>` | list | the stems of the steps newer notes replaced, oldest first (reminder lists read older notes' reminders through it, then the current steps'); patients from before this layout also have their current steps' stems there |
//! | `<prefix>step:<stem>` | hash | one step, checklist item or plan step (`stem`: the first 12 bytes of the step id in hex, see `domain::reminder`): `id`, `patient`, `kind` (`checklist`/`plan`), `status`, `created_at`; checklist items: `completed_at`; plan steps: `schedule` and `duration` (the event's JSON), `start`, `count` (occurrences before misses; empty when open-ended), `missed`, `done`, `next` (the next occurrence index to materialise), `last_due`, `unsent` (pending occurrences), `first_unsent` (no pending occurrence before it), and one field `o<n>` per materialised occurrence: `<due>:<grace>:<state>:<checked in at>` (due and check-in in seconds after `start`, grace in seconds; state `p` pending, `s` sent, `d` done, `m` missed, `c` cancelled). Steps stored by older versions may hold `note`, `head` and `inflight` (the last two read once and dropped) and occurrences as `<due>\|<grace>\|<state>\|<checked in at>` in seconds since the epoch, all still read |
//! | `<prefix>text:<stem>` | string | the step's title and source as the event sealed them, in bytes: `0x02`, then each envelope's version, key id, key nonce, wrapped key, nonce and ciphertext, each after its length (`store::sealed_text`; steps stored before hold the envelopes' JSON or dotted base64 on two lines, still read), ciphertext only |
//! | `<prefix>due` | sorted set | plan steps with reminders to send: member the step stem, score the due instant (ms) of its first unsent occurrence. One member per step, not per reminder: a step's reminders fall due one after another |
//! | `<prefix>leases` | sorted set | dispatcher rounds holding claimed reminders not acknowledged yet: member the lease id, score the end of the lease (ms); one that runs out is taken over by the next claim |
//! | `<prefix>lease:<lease id>` | list | what a round of claims holds until its acknowledgement: step stem, occurrence index, stem, index, … |
//! | `<prefix>grace` | sorted set | sent reminders waiting for a check-in: score the end of the grace period (ms), then of a lease |
//! | `<prefix>checkins` | sorted set | check-ins whose `checkin.recorded` is not published yet: score when (ms), then a lease |
//! | `<prefix>wake` | pub/sub channel | a message tells every replica's dispatchers that something was scheduled |
//! | `<prefix>feed:<patient id>` | stream | the patient's notifications, one entry per reminder sent, appended when its publication is acknowledged: `reminder_id`, `step_id`, `due_at` (seconds); capped near the newest 1,000 |
//! | `<prefix>parked` | set | stems of plan steps a claim could not read (a corrupt field or occurrence record): out of `due` until repaired, counted by `reminder_steps_parked` |
//!
//! Instants in clear, titles and sources sealed: the dispatcher needs no key, and a dump of
//! Redis shows nothing of a note.

use uuid::Uuid;

use crate::domain::StepStem;

/// The sorted sets of work by instant: reminders to send, grace periods to end, check-ins
/// to announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queue {
    Due,
    Grace,
    Checkins,
}

impl Queue {
    pub const ALL: [Queue; 3] = [Queue::Due, Queue::Grace, Queue::Checkins];

    pub fn name(self) -> &'static str {
        match self {
            Queue::Due => "due",
            Queue::Grace => "grace",
            Queue::Checkins => "checkins",
        }
    }
}

/// How long an applied event id is remembered: far longer than any redelivery or retry.
pub const EVENT_TTL_SECS: u64 = 7 * 24 * 60 * 60;

/// The key names under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>user:<id>`
    pub fn user(&self, id: Uuid) -> String {
        format!("{}user:{id}", self.prefix)
    }

    /// `<prefix>steps:<patient id>`
    pub fn steps(&self, patient_id: Uuid) -> String {
        format!("{}steps:{patient_id}", self.prefix)
    }

    /// `<prefix>history:<patient id>`
    pub fn history(&self, patient_id: Uuid) -> String {
        format!("{}history:{patient_id}", self.prefix)
    }

    /// `<prefix>step:<stem>`
    pub fn step(&self, stem: StepStem) -> String {
        format!("{}step:{stem}", self.prefix)
    }

    /// `<prefix>text:<stem>`
    pub fn text(&self, stem: StepStem) -> String {
        format!("{}text:{stem}", self.prefix)
    }

    /// `<prefix>feed:<patient id>`
    pub fn feed(&self, patient_id: Uuid) -> String {
        format!("{}feed:{patient_id}", self.prefix)
    }

    /// One of the three sorted sets the dispatcher works through.
    pub fn queue(&self, queue: Queue) -> String {
        format!("{}{}", self.prefix, queue.name())
    }

    /// `<prefix>leases`: the dispatch rounds not acknowledged yet, by the end of their lease.
    pub fn leases(&self) -> String {
        format!("{}leases", self.prefix)
    }

    /// `<prefix>wake`: the pub/sub channel on which a replica tells the others' dispatchers
    /// to look again.
    pub fn wake_channel(&self) -> String {
        format!("{}wake", self.prefix)
    }

    /// `<prefix>event:<id>`
    pub fn event(&self, id: Uuid) -> String {
        format!("{}event:{id}", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_under_the_prefix() {
        let keys = Keys::new("p:");
        let id = Uuid::nil();
        assert_eq!(keys.user(id), "p:user:00000000-0000-0000-0000-000000000000");
        assert_eq!(
            keys.event(id),
            "p:event:00000000-0000-0000-0000-000000000000"
        );
    }
}
