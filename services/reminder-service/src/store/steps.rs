//! Steps and reminders in Redis: replacing a patient's steps, the dispatcher's claims,
//! check-ins, misses, and the reads behind the routes. Every change is one of the Lua
//! scripts in [`super::scripts`]; key layout in [`super::keys`].

use std::collections::HashMap;

use redis::{AsyncCommands, Value};
use serde::Serialize;
use uuid::Uuid;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hospital_crypto::SealedEnvelope;

use super::keys::Queue;
use super::{Store, StoreError, EVENT_TTL_SECS};
use crate::domain::{OccurrenceRecord, ReminderId, StepStem};

/// A patient's new steps, as the replace script reads them (JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Replacement {
    pub patient: String,
    pub note_id: String,
    /// RFC 3339 UTC with microseconds: compares as a string.
    pub note_created_at: String,
    pub extractor: String,
    pub fallback: String,
    /// The zone the occurrences were computed in; the script refuses if the stored one
    /// differs.
    pub timezone: String,
    pub now: String,
    pub event_ttl: u64,
    pub checklist: Vec<NewChecklistItem>,
    pub plan: Vec<NewPlanStep>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewChecklistItem {
    pub stem: String,
    pub id: String,
    /// [`sealed_text`]: bytes, passed to the script beside the JSON.
    #[serde(skip)]
    pub text: Vec<u8>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewPlanStep {
    pub stem: String,
    pub id: String,
    /// [`sealed_text`]: bytes, passed to the script beside the JSON.
    #[serde(skip)]
    pub text: Vec<u8>,
    pub schedule: String,
    pub duration: String,
    pub start: String,
    /// Empty when open-ended.
    pub count: String,
    pub next: u32,
    pub last_due: String,
    pub occurrences: Vec<NewOccurrence>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NewOccurrence {
    pub n: u32,
    pub record: String,
    /// The due instant in ms (the score in `due`).
    pub score: i64,
}

/// More occurrences for one plan step (see `scripts::top_up`).
#[derive(Debug, Clone, Serialize)]
pub struct TopUp {
    pub stem: String,
    /// The step's `next` as read: if it changed meanwhile, nothing happens.
    pub expect_next: u32,
    /// Pending occurrences from this index to `expect_next - 1` are removed first (a
    /// time-zone change); `expect_next` when none are.
    pub from: u32,
    pub next: u32,
    pub last_due: String,
    pub occurrences: Vec<NewOccurrence>,
}

/// What replacing a patient's steps did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaceOutcome {
    /// The new steps took over; this many unsent reminders of older steps were cancelled.
    Applied { cancelled: i64 },
    /// This event was applied before.
    Duplicate,
    /// Steps of a newer note (or of this note) are stored; nothing changed.
    Stale,
    /// The patient's time zone changed since it was read: compute again in this one.
    ZoneChanged(String),
    /// A step id of the event is already in use.
    StepIdReused,
}

/// A reminder sent to its patient's feed by a claim (or missed before it could be): publish
/// `reminder.due` (or `reminder.missed`), then acknowledge its step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Its grace period ended before it could be sent: publish `reminder.missed` instead.
    pub missed: bool,
    pub stem: String,
    /// Its occurrence index in the step.
    pub n: u32,
    pub reminder_id: String,
    pub patient_id: String,
    pub step_id: String,
    pub due: i64,
    /// Its grace period (seconds): it ends at `due + grace`.
    pub grace: i64,
    /// The step's title as the event sealed it (`None` if its text is missing or unreadable).
    pub title: Option<SealedEnvelope>,
}

/// A dispatcher's claim: what is due by `horizon_ms` (at least `now_ms`; later claims
/// ahead), at most `batch` reminders, held under `lease` until `horizon_ms + lease_ms`.
/// The claims of one round share their lease, which one acknowledgement ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub now_ms: i64,
    pub horizon_ms: i64,
    pub lease_ms: i64,
    pub batch: usize,
    pub lease: Uuid,
    /// How many unsent occurrences a step should keep: fewer, and the claim says so.
    pub lookahead: u32,
}

/// What a claim took: the reminders to publish, in the order the steps were claimed (a
/// step's rows consecutive), the steps it parked as (stem, the unreadable field), and the
/// stems of steps that need more occurrences.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claimed {
    pub sent: Vec<Sent>,
    pub parked: Vec<(String, String)>,
    pub more: Vec<String>,
}

/// How a step's sealed title and source are kept (`<prefix>text:<stem>`), in bytes every
/// pending step pays for: `0x02`, then the title's envelope and the source's, each as its
/// version (1 byte), then its key id, key nonce, wrapped key and nonce each after its length
/// (1 byte), then its ciphertext after its length (2 bytes, big-endian). Ciphertext only,
/// about half the envelopes' JSON. An envelope too big for those lengths keeps the text
/// form, dotted base64 (older steps hold JSON); [`parse_sealed_text`] reads all three.
pub fn sealed_text(title: &SealedEnvelope, source: &SealedEnvelope) -> Vec<u8> {
    let mut text = vec![BINARY_TEXT];
    if put_envelope(&mut text, title) && put_envelope(&mut text, source) {
        return text;
    }
    format!("{}\n{}", compact_envelope(title), compact_envelope(source)).into_bytes()
}

/// The first byte of a binary text (never the first of a text form: `{` or a digit).
const BINARY_TEXT: u8 = 0x02;

/// Appends `envelope` in the binary form; `false` when a part is too long for it.
fn put_envelope(out: &mut Vec<u8>, envelope: &SealedEnvelope) -> bool {
    let Ok(v) = u8::try_from(envelope.v) else {
        return false;
    };
    let Ok(ciphertext_len) = u16::try_from(envelope.ciphertext.len()) else {
        return false;
    };
    out.push(v);
    for part in [
        envelope.kid.as_bytes(),
        &envelope.key_nonce,
        &envelope.wrapped_key,
        &envelope.nonce,
    ] {
        let Ok(len) = u8::try_from(part.len()) else {
            return false;
        };
        out.push(len);
        out.extend_from_slice(part);
    }
    out.extend_from_slice(&ciphertext_len.to_be_bytes());
    out.extend_from_slice(&envelope.ciphertext);
    true
}

/// Reads one binary envelope from the front of `bytes`; the envelope and what follows.
fn take_envelope(bytes: &[u8]) -> Option<(SealedEnvelope, &[u8])> {
    let (&v, mut rest) = bytes.split_first()?;
    let part = |rest: &mut &[u8], len: usize| -> Option<Vec<u8>> {
        let (head, tail) = rest.split_at_checked(len)?;
        *rest = tail;
        Some(head.to_vec())
    };
    let short = |rest: &mut &[u8]| -> Option<Vec<u8>> {
        let (&len, tail) = rest.split_first()?;
        *rest = tail;
        part(rest, usize::from(len))
    };
    let kid = String::from_utf8(short(&mut rest)?).ok()?;
    let key_nonce = short(&mut rest)?;
    let wrapped_key = short(&mut rest)?;
    let nonce = short(&mut rest)?;
    let (len, tail) = rest.split_at_checked(2)?;
    rest = tail;
    let ciphertext = part(&mut rest, usize::from(u16::from_be_bytes([len[0], len[1]])))?;
    Some((
        SealedEnvelope {
            v: u32::from(v),
            kid,
            key_nonce,
            wrapped_key,
            nonce,
            ciphertext,
        },
        rest,
    ))
}

/// An envelope in 40% fewer bytes than its JSON, the text form of [`sealed_text`]:
/// `<v>.<key nonce>.<wrapped key>.<nonce>.<ciphertext>.<kid>`, the bytes in unpadded
/// URL-safe base64 (which has no `.`), the key id last so that it may hold dots. A key id
/// with a line break keeps the JSON form.
pub fn compact_envelope(envelope: &SealedEnvelope) -> String {
    if envelope.kid.contains('\n') || envelope.kid.is_empty() {
        return serde_json::to_string(envelope).unwrap_or_default();
    }
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    format!(
        "{}.{}.{}.{}.{}.{}",
        envelope.v,
        b64(&envelope.key_nonce),
        b64(&envelope.wrapped_key),
        b64(&envelope.nonce),
        b64(&envelope.ciphertext),
        envelope.kid
    )
}

/// An envelope stored by [`compact_envelope`] (or as JSON, as older steps were).
pub fn parse_envelope(stored: &str) -> Option<SealedEnvelope> {
    if stored.starts_with('{') {
        return serde_json::from_str(stored).ok();
    }
    let mut parts = stored.splitn(6, '.');
    let v = parts.next()?.parse().ok()?;
    let mut bytes = || URL_SAFE_NO_PAD.decode(parts.next()?).ok();
    let key_nonce = bytes()?;
    let wrapped_key = bytes()?;
    let nonce = bytes()?;
    let ciphertext = bytes()?;
    let kid = parts.next().filter(|kid| !kid.is_empty())?.to_owned();
    Some(SealedEnvelope {
        v,
        kid,
        key_nonce,
        wrapped_key,
        nonce,
        ciphertext,
    })
}

/// The title and source envelopes of a stored [`sealed_text`], in any of its forms.
pub fn parse_sealed_text(text: &[u8]) -> Option<(SealedEnvelope, SealedEnvelope)> {
    if let Some(binary) = text.strip_prefix(&[BINARY_TEXT]) {
        let (title, rest) = take_envelope(binary)?;
        let (source, rest) = take_envelope(rest)?;
        return rest.is_empty().then_some((title, source));
    }
    let (title, source) = std::str::from_utf8(text).ok()?.split_once('\n')?;
    Some((parse_envelope(title)?, parse_envelope(source)?))
}

/// The title envelope of a stored [`sealed_text`] (what a reminder carries).
pub fn parse_sealed_title(text: &[u8]) -> Option<SealedEnvelope> {
    if let Some(binary) = text.strip_prefix(&[BINARY_TEXT]) {
        return take_envelope(binary).map(|(title, _)| title);
    }
    let text = std::str::from_utf8(text).ok()?;
    parse_envelope(text.split('\n').next()?)
}

/// A claimed grace period that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// Missed: publish `reminder.missed`.
    Missed {
        reminder_id: String,
        patient_id: String,
        step_id: String,
        due: i64,
        /// The step should get its extra occurrence.
        needs_more: bool,
    },
    /// Checked in or cancelled meanwhile.
    Skip { reminder_id: String },
}

/// How a check-in went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckInOutcome {
    /// Checked in now; `needs_more`: the step should get another occurrence.
    Done {
        record: OccurrenceRecord,
        needs_more: bool,
    },
    /// Checked in before: the same answer again.
    Again(OccurrenceRecord),
    NotFound,
    Forbidden,
    NotYetDue(OccurrenceRecord),
    AlreadyMissed(OccurrenceRecord),
    Cancelled(OccurrenceRecord),
}

/// How completing a checklist item went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompleteOutcome {
    Done,
    Again,
    NotFound,
    Forbidden,
    Cancelled,
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(|v| redis::from_redis_value::<String>(v.clone()).unwrap_or_default())
            .collect(),
        _ => Vec::new(),
    }
}

fn rows(value: Value) -> Vec<Vec<String>> {
    match value {
        Value::Array(items) => items.iter().map(strings).collect(),
        _ => Vec::new(),
    }
}

/// The id of occurrence `n` (as the script wrote it) of step `step_id`.
fn reminder_id(step_id: &str, n: &str) -> Option<String> {
    let step_id = Uuid::parse_str(step_id).ok()?;
    Some(ReminderId::new(step_id, n.parse().ok()?).to_string())
}

fn malformed(what: &str) -> StoreError {
    StoreError(redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "unexpected script reply",
        what.to_owned(),
    )))
}

impl Store {
    /// Replaces the patient's steps once per event (see `scripts::replace_steps`).
    pub async fn replace_steps(
        &self,
        event_id: Uuid,
        patient_id: Uuid,
        replacement: &Replacement,
    ) -> Result<ReplaceOutcome, StoreError> {
        let payload = serde_json::to_string(replacement).map_err(|e| malformed(&e.to_string()))?;
        let mut invocation = self.scripts.replace_steps.prepare_invoke();
        invocation
            .key(self.keys.event(event_id))
            .key(self.keys.steps(patient_id))
            .key(self.keys.user(patient_id))
            .key(self.keys.history(patient_id))
            .key(self.keys.queue(Queue::Due))
            .arg(self.keys.prefix())
            .arg(payload)
            .arg(self.record_form.name());
        // The texts are bytes, which JSON cannot carry: one argument each, checklist first.
        for text in replacement
            .checklist
            .iter()
            .map(|item| &item.text)
            .chain(replacement.plan.iter().map(|step| &step.text))
        {
            invocation.arg(text.as_slice());
        }
        let mut connection = self.connection.clone();
        let reply: Value = invocation.invoke_async(&mut connection).await?;
        let reply = strings(&reply);
        Ok(match reply.first().map(String::as_str) {
            Some("1") => ReplaceOutcome::Applied {
                cancelled: reply.get(1).and_then(|c| c.parse().ok()).unwrap_or(0),
            },
            Some("0") => ReplaceOutcome::Duplicate,
            Some("2") => ReplaceOutcome::Stale,
            Some("3") => ReplaceOutcome::ZoneChanged(reply.get(1).cloned().unwrap_or_default()),
            Some("5") => ReplaceOutcome::StepIdReused,
            _ => return Err(malformed("replace_steps")),
        })
    }

    /// Claims up to `batch` members of `queue` due at `now_ms`, leasing them for `lease_ms`.
    pub async fn claim(
        &self,
        queue: Queue,
        now_ms: i64,
        lease_ms: i64,
        batch: usize,
    ) -> Result<Vec<String>, StoreError> {
        let mut connection = self.connection.clone();
        let claimed: Vec<String> = self
            .scripts
            .claim
            .key(self.keys.queue(queue))
            .arg(self.keys.prefix())
            .arg(now_ms)
            .arg(lease_ms)
            .arg(batch)
            .invoke_async(&mut connection)
            .await?;
        Ok(claimed)
    }

    /// Claims the plan steps with reminders due by `claim.horizon_ms` in due order (up to
    /// `claim.batch` reminders), leasing them, and marks those reminders sent (once each);
    /// see `scripts::claim_and_send`.
    pub async fn claim_and_send(&self, claim: Claim) -> Result<Claimed, StoreError> {
        let mut connection = self.connection.clone();
        let reply: Value = self
            .scripts
            .claim_and_send
            .arg(self.keys.prefix())
            .arg(claim.now_ms)
            .arg(claim.horizon_ms.max(claim.now_ms))
            .arg(claim.lease_ms)
            .arg(claim.batch)
            .arg(claim.lease.to_string())
            .arg(claim.lookahead)
            .invoke_async(&mut connection)
            .await?;
        let mut claimed = Claimed::default();
        for row in rows(reply) {
            match row.as_slice() {
                [kind, stem, why] if kind == "parked" => {
                    claimed.parked.push((stem.clone(), why.clone()));
                }
                [kind, stem] if kind == "more" => claimed.more.push(stem.clone()),
                [kind, stem, n, patient, step, due, grace] => claimed.sent.push(Sent {
                    missed: kind == "missed",
                    stem: stem.clone(),
                    n: n.parse().map_err(|_| malformed("claim_and_send n"))?,
                    reminder_id: reminder_id(step, n)
                        .ok_or_else(|| malformed("claim_and_send reminder"))?,
                    patient_id: patient.clone(),
                    step_id: step.clone(),
                    due: due.parse().map_err(|_| malformed("claim_and_send due"))?,
                    grace: grace
                        .parse()
                        .map_err(|_| malformed("claim_and_send grace"))?,
                    title: None,
                }),
                _ => return Err(malformed("claim_and_send")),
            }
        }
        self.read_titles(&mut claimed.sent).await?;
        Ok(claimed)
    }

    /// Fills in the sealed titles of the reminders to announce as due, one `MGET` for the
    /// batch (a step's reminders are consecutive, so each text is read and parsed once).
    async fn read_titles(&self, sent: &mut [Sent]) -> Result<(), StoreError> {
        let mut stems: Vec<String> = sent
            .iter()
            .filter(|reminder| !reminder.missed)
            .map(|reminder| reminder.stem.clone())
            .collect();
        stems.dedup();
        let texts = self.texts(&stems).await?;
        let titles: HashMap<&str, SealedEnvelope> = stems
            .iter()
            .zip(&texts)
            .filter_map(|(stem, text)| Some((stem.as_str(), parse_sealed_title(text.as_deref()?)?)))
            .collect();
        for reminder in sent.iter_mut().filter(|reminder| !reminder.missed) {
            reminder.title = titles.get(reminder.stem.as_str()).cloned();
        }
        Ok(())
    }

    /// Ends a round's `lease` once its reminders `sent` went out, `published[i]` telling
    /// which did: those announced as due go to their patients' feeds (at most about
    /// `feed_max_len` entries each) and start their grace periods; those not published stay
    /// held until the lease runs out, when another claim sends them again. `false` when the
    /// lease had already run out and another claim took it over (then this one writes
    /// nothing: that claim sends them again and its acknowledgement writes the feeds).
    pub async fn acknowledge_sent(
        &self,
        lease: Uuid,
        sent: &[Sent],
        published: &[bool],
        feed_max_len: usize,
    ) -> Result<bool, StoreError> {
        let is_published = |i: usize| published.get(i).copied().unwrap_or(false);
        let mut invocation = self.scripts.acknowledge_sent.prepare_invoke();
        let left: Vec<usize> = (0..sent.len()).filter(|&i| !is_published(i)).collect();
        invocation
            .arg(self.keys.prefix())
            .arg(lease.to_string())
            .arg(feed_max_len)
            .arg(left.len());
        for &i in &left {
            invocation.arg(&sent[i].stem).arg(sent[i].n);
        }
        for (i, reminder) in sent.iter().enumerate() {
            if is_published(i) && !reminder.missed {
                let grace_ends_ms = reminder
                    .due
                    .saturating_add(reminder.grace)
                    .saturating_mul(1000);
                invocation
                    .arg(&reminder.patient_id)
                    .arg(&reminder.reminder_id)
                    .arg(&reminder.step_id)
                    .arg(reminder.due)
                    .arg(grace_ends_ms);
            }
        }
        let mut connection = self.connection.clone();
        let owned: i64 = invocation.invoke_async(&mut connection).await?;
        Ok(owned == 1)
    }

    /// Reads up to `at_most` parked steps again and puts those that now read back into
    /// `due` (see `scripts::unpark`); how many went back.
    pub async fn unpark(&self, at_most: usize) -> Result<usize, StoreError> {
        let mut connection = self.connection.clone();
        let back: usize = self
            .scripts
            .unpark
            .arg(self.keys.prefix())
            .arg(at_most)
            .invoke_async(&mut connection)
            .await?;
        Ok(back)
    }

    /// Marks claimed reminders whose grace period ended as missed.
    pub async fn miss(
        &self,
        reminder_ids: &[String],
        lookahead: u32,
    ) -> Result<Vec<Miss>, StoreError> {
        let mut connection = self.connection.clone();
        let reply: Value = self
            .scripts
            .miss
            .arg(self.keys.prefix())
            .arg(lookahead)
            .arg(reminder_ids)
            .invoke_async(&mut connection)
            .await?;
        rows(reply)
            .into_iter()
            .map(|row| match row.as_slice() {
                [id] => Ok(Miss::Skip {
                    reminder_id: id.clone(),
                }),
                [id, patient, step, due, more] => Ok(Miss::Missed {
                    reminder_id: id.clone(),
                    patient_id: patient.clone(),
                    step_id: step.clone(),
                    due: due.parse().map_err(|_| malformed("miss due"))?,
                    needs_more: more == "1",
                }),
                _ => Err(malformed("miss")),
            })
            .collect()
    }

    /// Removes handled members from `queue`.
    pub async fn acknowledge(&self, queue: Queue, members: &[String]) -> Result<(), StoreError> {
        if members.is_empty() {
            return Ok(());
        }
        let mut connection = self.connection.clone();
        let _: i64 = self
            .scripts
            .acknowledge
            .key(self.keys.queue(queue))
            .arg(self.keys.prefix())
            .arg(members)
            .invoke_async(&mut connection)
            .await?;
        Ok(())
    }

    /// The earliest score (ms) in any of the dispatcher's queues, or end of a lease.
    pub async fn earliest(&self) -> Result<Option<i64>, StoreError> {
        let mut pipe = redis::pipe();
        let leases = self.keys.leases();
        for key in Queue::ALL
            .map(|queue| self.keys.queue(queue))
            .iter()
            .chain([&leases])
        {
            pipe.cmd("ZRANGE").arg(key).arg(0).arg(0).arg("WITHSCORES");
        }
        let mut connection = self.connection.clone();
        let heads: Vec<Vec<(String, f64)>> = pipe.query_async(&mut connection).await?;
        #[allow(clippy::cast_possible_truncation)]
        Ok(heads
            .into_iter()
            .filter_map(|head| head.first().map(|(_, score)| *score as i64))
            .min())
    }

    /// A patient checks in reminder `id` at `now` (seconds).
    pub async fn check_in(
        &self,
        id: ReminderId,
        caller: Uuid,
        now: i64,
        lookahead: u32,
    ) -> Result<CheckInOutcome, StoreError> {
        let mut connection = self.connection.clone();
        let reply: Vec<String> = self
            .scripts
            .check_in
            .key(self.keys.step(id.stem))
            .arg(self.keys.prefix())
            .arg(id.to_string())
            .arg(caller.to_string())
            .arg(now)
            .arg(lookahead)
            .invoke_async(&mut connection)
            .await?;
        let record = || -> Result<OccurrenceRecord, StoreError> {
            reply
                .get(1)
                .and_then(|r| r.parse().ok())
                .ok_or_else(|| malformed("check_in record"))
        };
        Ok(match reply.first().map(String::as_str) {
            Some("done") => CheckInOutcome::Done {
                record: record()?,
                needs_more: reply.get(2).is_some_and(|m| m == "1"),
            },
            Some("again") => CheckInOutcome::Again(record()?),
            Some("not_found") => CheckInOutcome::NotFound,
            Some("forbidden") => CheckInOutcome::Forbidden,
            Some("not_yet_due") => CheckInOutcome::NotYetDue(record()?),
            Some("already_missed") => CheckInOutcome::AlreadyMissed(record()?),
            Some("cancelled") => CheckInOutcome::Cancelled(record()?),
            _ => return Err(malformed("check_in")),
        })
    }

    /// A patient completes checklist item `item_id`.
    pub async fn complete_item(
        &self,
        item_id: Uuid,
        caller: Uuid,
        now: i64,
    ) -> Result<CompleteOutcome, StoreError> {
        let mut connection = self.connection.clone();
        let reply: Vec<String> = self
            .scripts
            .complete_item
            .key(self.keys.step(StepStem::of(item_id)))
            .arg(self.keys.prefix())
            .arg(item_id.to_string())
            .arg(caller.to_string())
            .arg(now)
            .invoke_async(&mut connection)
            .await?;
        Ok(match reply.first().map(String::as_str) {
            Some("done") => CompleteOutcome::Done,
            Some("again") => CompleteOutcome::Again,
            Some("not_found") => CompleteOutcome::NotFound,
            Some("forbidden") => CompleteOutcome::Forbidden,
            Some("cancelled") => CompleteOutcome::Cancelled,
            _ => return Err(malformed("complete_item")),
        })
    }

    /// Adds occurrences; returns how many steps changed.
    pub async fn top_up(&self, top_ups: &[TopUp]) -> Result<i64, StoreError> {
        if top_ups.is_empty() {
            return Ok(0);
        }
        let payload = serde_json::to_string(top_ups).map_err(|e| malformed(&e.to_string()))?;
        let mut connection = self.connection.clone();
        Ok(self
            .scripts
            .top_up
            .arg(self.keys.prefix())
            .arg(payload)
            .arg(self.record_form.name())
            .invoke_async(&mut connection)
            .await?)
    }

    /// The patient's current steps (`steps:<id>`), empty when none arrived yet.
    pub async fn current_steps(
        &self,
        patient_id: Uuid,
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut connection = self.connection.clone();
        Ok(connection.hgetall(self.keys.steps(patient_id)).await?)
    }

    /// The stems of every step the patient ever had, oldest first: the replaced ones
    /// (`history:`) and the current ones (`steps:`).
    pub async fn history(&self, patient_id: Uuid) -> Result<Vec<String>, StoreError> {
        let mut connection = self.connection.clone();
        let (replaced, current): (Vec<String>, (Option<String>, Option<String>)) = redis::pipe()
            .lrange(self.keys.history(patient_id), 0, -1)
            .cmd("HMGET")
            .arg(self.keys.steps(patient_id))
            .arg("checklist")
            .arg("plan")
            .query_async(&mut connection)
            .await?;
        let mut seen = std::collections::HashSet::new();
        let current = [current.0, current.1];
        Ok(replaced
            .into_iter()
            .chain(
                current
                    .iter()
                    .flatten()
                    .flat_map(|stems| stems.split_whitespace().map(str::to_owned)),
            )
            // Patients from before also have their current steps in `history:`.
            .filter(|stem| seen.insert(stem.clone()))
            .collect())
    }

    /// Every field of each step (empty maps for missing ones), in one round trip.
    pub async fn steps(
        &self,
        stems: &[String],
    ) -> Result<Vec<HashMap<String, String>>, StoreError> {
        if stems.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for stem in stems {
            pipe.cmd("HGETALL")
                .arg(format!("{}step:{stem}", self.keys.prefix()));
        }
        let mut connection = self.connection.clone();
        Ok(pipe.query_async(&mut connection).await?)
    }

    /// The named fields of each step, in one round trip.
    pub async fn step_fields(
        &self,
        stems: &[String],
        fields: &[&str],
    ) -> Result<Vec<Vec<Option<String>>>, StoreError> {
        if stems.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for stem in stems {
            pipe.cmd("HMGET")
                .arg(format!("{}step:{stem}", self.keys.prefix()))
                .arg(fields);
        }
        let mut connection = self.connection.clone();
        Ok(pipe.query_async(&mut connection).await?)
    }

    /// The sealed title and source of each step ([`sealed_text`]), in one round trip.
    pub async fn texts(&self, stems: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if stems.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = stems
            .iter()
            .map(|stem| format!("{}text:{stem}", self.keys.prefix()))
            .collect();
        let mut connection = self.connection.clone();
        let texts: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut connection)
            .await?;
        Ok(texts)
    }

    /// Occurrence records with their step's patient and id (`None` for one that is gone),
    /// in one round trip.
    pub async fn reminders(
        &self,
        ids: &[ReminderId],
    ) -> Result<Vec<Option<(OccurrenceRecord, String, String)>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.cmd("HMGET")
                .arg(self.keys.step(id.stem))
                .arg(format!("o{}", id.n))
                .arg("patient")
                .arg("id")
                .arg("start");
        }
        let mut connection = self.connection.clone();
        let rows: Vec<Vec<Option<String>>> = pipe.query_async(&mut connection).await?;
        Ok(rows
            .into_iter()
            .map(|fields| match fields.as_slice() {
                [Some(record), Some(patient), Some(step), start] => {
                    let start = start.as_deref().and_then(|s| s.parse().ok());
                    OccurrenceRecord::from_stored(record, start)
                        .ok()
                        .map(|record| (record, patient.clone(), step.clone()))
                }
                _ => None,
            })
            .collect())
    }

    /// A dedicated connection, for commands that block (`XREAD BLOCK` of the live feed)
    /// and must not hold up the shared one.
    pub async fn dedicated_connection(
        &self,
    ) -> Result<redis::aio::MultiplexedConnection, StoreError> {
        Ok(self
            .client
            .get_multiplexed_async_connection_with_config(
                &redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
                    .set_response_timeout(None),
            )
            .await?)
    }

    /// Tells every replica's dispatchers to look again (`PUBLISH <prefix>wake`).
    pub async fn announce_wake(&self) -> Result<(), StoreError> {
        let mut connection = self.connection.clone();
        let _: i64 = connection.publish(self.keys.wake_channel(), "").await?;
        Ok(())
    }

    /// Calls `wake` for every announcement on the wake-up channel; returns when the
    /// subscription ends (an error: the caller reconnects).
    pub async fn on_wake(&self, wake: impl Fn()) -> Result<(), StoreError> {
        use futures_util::StreamExt as _;
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(self.keys.wake_channel()).await?;
        let mut messages = pubsub.on_message();
        while messages.next().await.is_some() {
            wake();
        }
        Err(StoreError(redis::RedisError::from((
            redis::ErrorKind::Io,
            "the wake-up subscription ended",
        ))))
    }

    /// The event-id TTL used by the scripts, for callers building a [`Replacement`].
    pub fn event_ttl(&self) -> u64 {
        EVENT_TTL_SECS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(kid: &str) -> SealedEnvelope {
        SealedEnvelope {
            v: 1,
            kid: kid.to_owned(),
            key_nonce: vec![1; 12],
            wrapped_key: vec![2; 48],
            nonce: vec![3; 12],
            ciphertext: (0..=255).collect(),
        }
    }

    #[test]
    fn texts_are_stored_compactly_and_read_back_in_any_form() {
        let (title, source) = (envelope("2026-12.main"), envelope("k"));
        let json = format!(
            "{}\n{}",
            serde_json::to_string(&title).unwrap(),
            serde_json::to_string(&source).unwrap()
        );
        let dotted = format!(
            "{}\n{}",
            compact_envelope(&title),
            compact_envelope(&source)
        );
        let binary = sealed_text(&title, &source);
        assert_eq!(binary[0], BINARY_TEXT);
        // No field names, quotes or base64: a quarter less than the JSON even here, where
        // the ciphertexts are long; about half for a short title.
        assert!(binary.len() < dotted.len() && dotted.len() + 2 * 60 < json.len());
        assert!(
            binary.len() * 4 < json.len() * 3,
            "{} vs {}",
            binary.len(),
            json.len()
        );
        for stored in [binary, dotted.into_bytes(), json.into_bytes()] {
            assert_eq!(
                parse_sealed_text(&stored),
                Some((title.clone(), source.clone()))
            );
            assert_eq!(parse_sealed_title(&stored), Some(title.clone()));
        }
    }

    #[test]
    fn an_envelope_too_big_for_the_binary_form_keeps_the_text_form() {
        let mut long = envelope("k");
        long.ciphertext = vec![7; 70_000];
        let stored = sealed_text(&long, &envelope("k"));
        assert_ne!(stored[0], BINARY_TEXT);
        assert_eq!(parse_sealed_text(&stored).map(|(t, _)| t), Some(long));
    }

    #[test]
    fn a_damaged_binary_text_reads_as_nothing() {
        let stored = sealed_text(&envelope("k"), &envelope("k"));
        for cut in [1, 2, 10, stored.len() / 2, stored.len() - 1] {
            assert_eq!(parse_sealed_text(&stored[..cut]), None, "cut at {cut}");
        }
        let mut longer = stored.clone();
        longer.push(0);
        assert_eq!(parse_sealed_text(&longer), None, "trailing bytes");
    }

    #[test]
    fn a_damaged_compact_envelope_reads_as_nothing() {
        let stored = compact_envelope(&envelope("k"));
        for damaged in [
            String::new(),
            stored.replace('.', ""),
            format!("x{stored}"),
            stored.trim_end_matches('k').to_owned(),
            stored.replacen('.', ".!", 2),
        ] {
            assert_eq!(parse_envelope(&damaged), None, "{damaged}");
        }
        // A key id that could break the lines keeps the JSON form.
        let odd = envelope("a\nb");
        assert_eq!(parse_envelope(&compact_envelope(&odd)), Some(odd));
    }
}
