//! The dispatcher: sends reminders when they fall due, ends grace periods, announces
//! check-ins.
//!
//! Work waits in three sorted sets by instant: `due` (plan steps, each at its next unsent
//! occurrence), `grace` and `checkins` (reminders). A dispatcher claims a batch with a
//! lease, does the work, publishes the events with confirms and only then acknowledges.
//! (Reminders are held under one lease per round of claims, a member of `leases` at the
//! lease's end; grace periods and check-ins each have their score moved to it.) A
//! dispatcher that dies mid-batch leaves its claims to expire: another (or its restart)
//! claims them again, and the occurrence's state keeps the feed free of duplicates (a
//! republished event has the same id, so consumers drop it). Several replicas may run at
//! once: a member is claimed by one at a time.
//!
//! No polling: with nothing due a dispatcher sleeps until the earliest score in the three
//! sets (or the end of a lease), and wakes early when something is scheduled: at once in this process, and through
//! a Redis channel (`<prefix>wake`) in the other replicas. `max_idle` bounds a sleep in case a
//! wake-up message is lost (Redis pub/sub does not keep messages for a subscriber that is
//! reconnecting).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use hospital_events::{
    CheckinRecorded, Envelope, Event, Outgoing, Publisher, ReminderDue, ReminderDueBatch,
    ReminderMissed,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::ReminderId;
use crate::metrics::DispatchMetrics;
use crate::planner::{event_id, Planner};
use crate::store::{Claim, Miss, Queue, Sent, Store, StoreError};

/// The most claims a dispatcher holds ahead of their instant at once: with two dispatchers
/// and batches of 500, a burst of 16,000 due at one instant is ready when it comes.
const AHEAD_CLAIMS: usize = 16;

/// How often a dispatcher reads the parked steps again, and how many at most each time.
const UNPARK_EVERY: Duration = Duration::from_secs(60);
const UNPARK_BATCH: usize = 100;

/// How the dispatcher works.
#[derive(Debug, Clone, Copy)]
pub struct DispatchSettings {
    /// Reminders a claim takes at most.
    pub batch: usize,
    pub lease: Duration,
    pub feed_max_len: usize,
    pub max_idle: Duration,
    /// How long before their instant reminders are claimed, so that those falling due
    /// together are ready and go out at the instant rather than over the next second.
    pub claim_ahead: Duration,
    /// Which events announce due reminders.
    pub due_events: DueEvents,
}

/// How due reminders are announced: `reminder.due_batch.v1` carries up to
/// [`ReminderDueBatch::MAX_REMINDERS`] reminders that fell due together in one message (the
/// broker's messages per second, not its bytes, are what limits dispatch); `reminder.due.v1`
/// one each, for senders that want them so; both while senders move from one to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueEvents {
    #[default]
    Batch,
    Single,
    Both,
}

impl DueEvents {
    fn batch(self) -> bool {
        matches!(self, Self::Batch | Self::Both)
    }

    fn single(self) -> bool {
        matches!(self, Self::Single | Self::Both)
    }
}

/// Wakes the dispatchers when something falls due sooner than they think: this process's at
/// once, other replicas' through the store's wake-up channel.
#[derive(Debug, Clone)]
pub struct Wake {
    local: Arc<Notify>,
    store: Option<Store>,
}

impl Default for Wake {
    /// Wakes this process's dispatchers only.
    fn default() -> Self {
        Self {
            local: Arc::new(Notify::new()),
            store: None,
        }
    }
}

impl Wake {
    /// Wakes this process's dispatchers and, through `store`, the other replicas'.
    pub fn shared(store: Store) -> Self {
        Self {
            local: Arc::new(Notify::new()),
            store: Some(store),
        }
    }

    pub fn now(&self) {
        self.local.notify_waiters();
        if let Some(store) = self.store.clone() {
            tokio::spawn(async move {
                if let Err(err) = store.announce_wake().await {
                    tracing::warn!(error = %err, "could not wake the other replicas' dispatchers");
                }
            });
        }
    }

    /// Wakes this process's dispatchers when another replica schedules something, until
    /// `cancel` fires (reconnecting after a failure).
    pub async fn listen(self, cancel: CancellationToken) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let mut failures: u32 = 0;
        while !cancel.is_cancelled() {
            let local = Arc::clone(&self.local);
            let listening = store.on_wake(move || local.notify_waiters());
            tokio::select! {
                () = cancel.cancelled() => break,
                result = listening => {
                    if let Err(err) = result {
                        tracing::warn!(error = %err, "lost the dispatchers' wake-up channel; reconnecting");
                    }
                }
            }
            // Whatever was announced meanwhile is seen by looking once more.
            self.local.notify_waiters();
            failures = failures.saturating_add(1);
            let backoff = Duration::from_millis(200 * u64::from(failures.min(25)));
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(backoff) => {}
            }
        }
    }
}

/// `data` as an event with a fixed id (derived from the reminders, so a republication has
/// the same one) that happened `at`.
fn envelope<T: Event>(id: Uuid, data: T, at: DateTime<Utc>) -> Envelope<T> {
    let mut envelope = Envelope::new(data).with_occurred_at(at);
    envelope.id = id;
    envelope
}

/// One message of a claim's publication and the reminders (indices into the claim) it
/// carries.
struct Message {
    routing_key: &'static str,
    id: String,
    payload: Vec<u8>,
    reminders: Vec<usize>,
}

impl Message {
    fn of<T: Event>(id: Uuid, data: T, at: DateTime<Utc>, reminders: Vec<usize>) -> Option<Self> {
        match envelope(id, data, at).to_bytes() {
            Ok(payload) => Some(Self {
                routing_key: T::ROUTING_KEY,
                id: id.to_string(),
                payload,
                reminders,
            }),
            Err(err) => {
                tracing::error!(error = %err, event_type = T::TYPE, "could not serialize an event");
                None
            }
        }
    }
}

#[derive(Clone)]
pub struct Dispatcher {
    store: Store,
    planner: Planner,
    publisher: Arc<Publisher>,
    settings: DispatchSettings,
    wake: Wake,
    metrics: Arc<DispatchMetrics>,
    /// Fires on shutdown: a dispatcher holding reminders claimed ahead stops waiting for
    /// their instant (their lease brings them back).
    stop: CancellationToken,
}

fn utc(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

fn uuid(s: &str) -> Uuid {
    Uuid::parse_str(s).unwrap_or_default()
}

impl Dispatcher {
    pub fn new(
        store: Store,
        planner: Planner,
        publisher: Arc<Publisher>,
        settings: DispatchSettings,
        wake: Wake,
        metrics: Arc<DispatchMetrics>,
    ) -> Self {
        Self {
            store,
            planner,
            publisher,
            settings,
            wake,
            metrics,
            stop: CancellationToken::new(),
        }
    }

    /// The same dispatcher publishing through `publisher`.
    #[must_use]
    pub fn with_publisher(mut self, publisher: Arc<Publisher>) -> Self {
        self.publisher = publisher;
        self
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.settings.lease.as_millis()).unwrap_or(i64::MAX)
    }

    /// Publishes `data` as an event with a fixed id; `true` when the broker confirmed it.
    async fn publish<T: Event>(&self, id: Uuid, data: T, at: DateTime<Utc>) -> bool {
        match self.publisher.publish_event(&envelope(id, data, at)).await {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(error = %err, event_type = T::TYPE, "publishing failed; the lease will bring it back");
                false
            }
        }
    }

    fn claim_ahead_ms(&self) -> i64 {
        i64::try_from(self.settings.claim_ahead.as_millis()).unwrap_or(0)
    }

    /// Sends what is due at `now_ms`, and claims ahead what falls due within
    /// `claim_ahead` to send it at its instant; returns how many reminders it handled.
    pub async fn send_due(&self, now_ms: i64) -> Result<usize, StoreError> {
        let started = std::time::Instant::now();
        let mut sent: Vec<Sent> = Vec::new();
        let mut more: Vec<String> = Vec::new();
        let mut parked = 0;
        // The round's claims share one lease, which one acknowledgement ends.
        let lease = Uuid::new_v4();
        // While every reminder claimed is still ahead of its instant, claim more (up to
        // AHEAD_CLAIMS batches): a burst due at one instant is then ready when it comes.
        for _ in 0..AHEAD_CLAIMS {
            let claimed = self
                .store
                .claim_and_send(Claim {
                    now_ms,
                    horizon_ms: now_ms.saturating_add(self.claim_ahead_ms()),
                    lease_ms: self.lease_ms(),
                    batch: self.settings.batch,
                    lease,
                    lookahead: self.planner.policy().lookahead,
                })
                .await?;
            for (stem, field) in &claimed.parked {
                tracing::error!(
                    stem,
                    field,
                    "parked a plan step whose stored record cannot be read; its reminders wait until it is repaired"
                );
            }
            self.metrics.parked(claimed.parked.len());
            parked += claimed.parked.len();
            let full = claimed.sent.len() >= self.settings.batch;
            let all_ahead = claimed
                .sent
                .iter()
                .all(|r| !r.missed && r.due.saturating_mul(1000) > now_ms);
            sent.extend(claimed.sent);
            more.extend(claimed.more);
            if !(full && all_ahead) {
                break;
            }
        }
        // A step claimed twice in the round is topped up once.
        more.sort_unstable();
        more.dedup();
        if sent.is_empty() {
            // Nothing held, so no lease to end; a step may still want more occurrences.
            self.planner.top_up(&more).await?;
            return Ok(parked);
        }
        let claim_took = started.elapsed();
        // Released by due instant: those due (or missed) now at once, those claimed ahead at
        // their instant. The claim took steps in due order; this orders a batch's reminders
        // across its steps.
        let mut order: Vec<usize> = (0..sent.len()).collect();
        order.sort_by_key(|&i| (!sent[i].missed, sent[i].due));
        let release_at = |i: usize| {
            if sent[i].missed {
                now_ms
            } else {
                sent[i].due.saturating_mul(1000).max(now_ms)
            }
        };
        let mut published = vec![false; sent.len()];
        let mut rest = order.as_slice();
        while let Some(&first) = rest.first() {
            let instant = release_at(first);
            let split = rest
                .iter()
                .position(|&i| release_at(i) != instant)
                .unwrap_or(rest.len());
            let (group, later) = rest.split_at(split);
            rest = later;
            if !self.wait_until(instant).await {
                // Shutting down: what is not published yet comes back after its lease.
                break;
            }
            self.publish_group(&sent, group, now_ms, &mut published)
                .await;
        }
        let publish_took = started.elapsed();
        // What was not published stays held under the lease and goes out again after it.
        let published_ms = self.planner.clock().now_millis();
        for (reminder, ok) in sent.iter().zip(&published) {
            if *ok && reminder.missed {
                self.metrics.missed(1);
            } else if *ok {
                self.metrics.sent(published_ms - reminder.due * 1000);
            }
        }
        let owned = self
            .store
            .acknowledge_sent(lease, &sent, &published, self.settings.feed_max_len)
            .await?;
        if !owned {
            tracing::warn!(
                sent = sent.len(),
                "the lease ran out before the acknowledgement; another claim sends these again"
            );
        }
        self.planner.top_up(&more).await?;
        tracing::debug!(
            sent = sent.len(),
            claim_ms = claim_took.as_millis(),
            publish_ms = publish_took.saturating_sub(claim_took).as_millis(),
            acknowledge_ms = started.elapsed().saturating_sub(publish_took).as_millis(),
            "dispatched a batch"
        );
        Ok(sent.len())
    }

    /// Waits until the clock reads `instant_ms`; `false` when the dispatcher is stopping.
    async fn wait_until(&self, instant_ms: i64) -> bool {
        let clock = self.planner.clock();
        let Ok(at) = jiff::Timestamp::from_millisecond(instant_ms) else {
            return true;
        };
        while clock.now_millis() < instant_ms {
            tokio::select! {
                () = self.stop.cancelled() => return false,
                () = clock.sleep_until(at, self.settings.claim_ahead.max(Duration::from_millis(10))) => {}
            }
        }
        true
    }

    /// Publishes the reminders `group` (indices into `sent`, released together) in as few
    /// messages as the configured events allow, one round of confirms for all, and marks
    /// in `published` those whose every message the broker confirmed.
    async fn publish_group(
        &self,
        sent: &[Sent],
        group: &[usize],
        now_ms: i64,
        published: &mut [bool],
    ) {
        let mut messages: Vec<Message> = Vec::new();
        let mut due: Vec<(usize, ReminderDue)> = Vec::new();
        for &i in group {
            let reminder = &sent[i];
            if reminder.missed {
                let event = ReminderMissed {
                    reminder_id: uuid(&reminder.reminder_id),
                    patient_id: uuid(&reminder.patient_id),
                    step_id: uuid(&reminder.step_id),
                    due_at: utc(reminder.due),
                };
                let id = event_id(ReminderMissed::TYPE, &reminder.reminder_id);
                messages.extend(Message::of(id, event, utc(now_ms / 1000), vec![i]));
                continue;
            }
            let Some(title) = reminder.title.clone() else {
                tracing::error!(
                    reminder_id = reminder.reminder_id,
                    "the step's sealed title is missing; sent to the feed without an event"
                );
                published[i] = true;
                continue;
            };
            due.push((
                i,
                ReminderDue {
                    reminder_id: uuid(&reminder.reminder_id),
                    patient_id: uuid(&reminder.patient_id),
                    step_id: uuid(&reminder.step_id),
                    due_at: utc(reminder.due),
                    title,
                },
            ));
        }
        if self.settings.due_events.single() {
            for (i, event) in &due {
                let reminder = &sent[*i];
                let id = event_id(ReminderDue::TYPE, &reminder.reminder_id);
                messages.extend(Message::of(id, event.clone(), utc(reminder.due), vec![*i]));
            }
        }
        if self.settings.due_events.batch() {
            for chunk in due.chunks(ReminderDueBatch::MAX_REMINDERS) {
                // The id names exactly these reminders: a retry that groups them otherwise
                // is another message, and senders deduplicate on each reminder's own id.
                let ids: Vec<&str> = chunk
                    .iter()
                    .map(|(i, _)| sent[*i].reminder_id.as_str())
                    .collect();
                let id = event_id(ReminderDueBatch::TYPE, &ids.join(","));
                let at = chunk
                    .iter()
                    .map(|(i, _)| sent[*i].due)
                    .max()
                    .unwrap_or_default();
                let batch = ReminderDueBatch {
                    reminders: chunk.iter().map(|(_, event)| event.clone()).collect(),
                };
                messages.extend(Message::of(
                    id,
                    batch,
                    utc(at),
                    chunk.iter().map(|(i, _)| *i).collect(),
                ));
            }
        }
        let outgoing: Vec<Outgoing<'_>> = messages
            .iter()
            .map(|message| Outgoing {
                routing_key: message.routing_key,
                message_id: &message.id,
                payload: &message.payload,
            })
            .collect();
        let (confirmed, failure) = self.publisher.publish_in_order(&outgoing).await;
        if let Some(err) = failure {
            tracing::warn!(error = %err, confirmed, of = messages.len(), "publishing failed; the lease will bring the rest back");
        }
        // A reminder is published when every message carrying it is confirmed.
        let mut missing = vec![0_usize; sent.len()];
        for message in &messages[confirmed.min(messages.len())..] {
            for &i in &message.reminders {
                missing[i] += 1;
            }
        }
        for message in &messages {
            for &i in &message.reminders {
                if missing[i] == 0 {
                    published[i] = true;
                }
            }
        }
    }

    /// Ends the grace periods over at `now_ms`: missed reminders, each adding one occurrence.
    pub async fn end_grace(&self, now_ms: i64) -> Result<usize, StoreError> {
        let claimed = self
            .store
            .claim(Queue::Grace, now_ms, self.lease_ms(), self.settings.batch)
            .await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let misses = self
            .store
            .miss(&claimed, self.planner.policy().lookahead)
            .await?;
        let published = join_all(misses.iter().map(|miss| async move {
            match miss {
                Miss::Skip { reminder_id } => Some(reminder_id.clone()),
                Miss::Missed {
                    reminder_id,
                    patient_id,
                    step_id,
                    due,
                    ..
                } => {
                    let event = ReminderMissed {
                        reminder_id: uuid(reminder_id),
                        patient_id: uuid(patient_id),
                        step_id: uuid(step_id),
                        due_at: utc(*due),
                    };
                    self.publish(
                        event_id(ReminderMissed::TYPE, reminder_id),
                        event,
                        utc(now_ms / 1000),
                    )
                    .await
                    .then(|| reminder_id.clone())
                }
            }
        }))
        .await;
        let acknowledged: Vec<String> = published.into_iter().flatten().collect();
        self.store.acknowledge(Queue::Grace, &acknowledged).await?;
        let more: Vec<String> = misses
            .iter()
            .filter_map(|m| match m {
                Miss::Missed {
                    reminder_id,
                    needs_more: true,
                    ..
                } => Uuid::parse_str(reminder_id)
                    .ok()
                    .map(|id| ReminderId::from_uuid(id).stem.to_string()),
                _ => None,
            })
            .collect();
        self.metrics.missed(
            misses
                .iter()
                .filter(|m| matches!(m, Miss::Missed { .. }))
                .count(),
        );
        self.planner.top_up(&more).await?;
        Ok(claimed.len())
    }

    /// Publishes `checkin.recorded` for check-ins not announced yet.
    pub async fn announce_checkins(&self, now_ms: i64) -> Result<usize, StoreError> {
        let claimed = self
            .store
            .claim(
                Queue::Checkins,
                now_ms,
                self.lease_ms(),
                self.settings.batch,
            )
            .await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        // A member that is not a reminder id is dropped (acknowledged without an event).
        let ids: Vec<ReminderId> = claimed
            .iter()
            .map(|m| ReminderId::from_uuid(Uuid::parse_str(m).unwrap_or_default()))
            .collect();
        let records = self.store.reminders(&ids).await?;
        let published = join_all(
            claimed
                .iter()
                .zip(&records)
                .map(|(member, record)| async move {
                    match record {
                        Some((occurrence, patient, _)) if occurrence.checked_in_at.is_some() => {
                            let at = utc(occurrence.checked_in_at.unwrap_or_default());
                            let event = CheckinRecorded {
                                reminder_id: uuid(member),
                                patient_id: uuid(patient),
                                at,
                            };
                            self.publish(event_id(CheckinRecorded::TYPE, member), event, at)
                                .await
                                .then(|| member.clone())
                        }
                        _ => Some(member.clone()),
                    }
                }),
        )
        .await;
        let acknowledged: Vec<String> = published.into_iter().flatten().collect();
        self.store
            .acknowledge(Queue::Checkins, &acknowledged)
            .await?;
        Ok(claimed.len())
    }

    /// Puts parked steps that read now back into `due`: a record repaired by an operator, or
    /// one written by a newer replica that a replica of an older version parked during a
    /// rolling upgrade, is sent without anyone re-adding it.
    pub async fn unpark(&self) {
        match self.store.unpark(UNPARK_BATCH).await {
            Ok(0) => {}
            Ok(back) => {
                tracing::info!(steps = back, "parked plan steps read now; back in due");
            }
            Err(err) => tracing::warn!(error = %err, "could not read the parked steps again"),
        }
    }

    /// One pass over the three queues at the clock's now; how much it handled.
    pub async fn tick(&self) -> Result<usize, StoreError> {
        let now_ms = self.planner.clock().now_millis();
        let sent = self.send_due(now_ms).await?;
        let missed = self.end_grace(now_ms).await?;
        let announced = self.announce_checkins(now_ms).await?;
        Ok(sent + missed + announced)
    }

    /// Works until `cancel` fires.
    pub async fn run(mut self, cancel: CancellationToken) {
        self.stop = cancel.clone();
        let mut failures: u32 = 0;
        let mut next_unpark = tokio::time::Instant::now();
        while !cancel.is_cancelled() {
            if tokio::time::Instant::now() >= next_unpark {
                next_unpark = tokio::time::Instant::now() + UNPARK_EVERY;
                self.unpark().await;
            }
            // Registered before looking, so a wake-up between the look and the sleep counts.
            let woken = self.wake.local.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.tick().await {
                Ok(0) => failures = 0,
                Ok(_) => {
                    failures = 0;
                    continue;
                }
                Err(err) => {
                    failures = failures.saturating_add(1);
                    let backoff = Duration::from_millis(100 * u64::from(failures.min(20)));
                    tracing::warn!(error = %err, "dispatcher could not reach Redis; trying again");
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(backoff) => continue,
                    }
                }
            }
            let earliest = match self.store.earliest().await {
                Ok(earliest) => earliest,
                Err(err) => {
                    tracing::warn!(error = %err, "dispatcher could not read the next due instant");
                    None
                }
            };
            let clock = self.planner.clock();
            // Woken a little early: the claim takes what falls due within `claim_ahead`.
            let until = earliest
                .and_then(|ms| {
                    jiff::Timestamp::from_millisecond(ms.saturating_sub(self.claim_ahead_ms())).ok()
                })
                .unwrap_or(jiff::Timestamp::MAX);
            tokio::select! {
                () = cancel.cancelled() => break,
                () = &mut woken => {}
                () = clock.sleep_until(until, self.settings.max_idle) => {}
            }
        }
    }
}
