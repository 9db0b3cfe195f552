#![allow(clippy::unwrap_used, clippy::expect_used)]

//! One contract for every `NoteStore` adapter: PostgreSQL always, MongoDB whenever
//! `TEST_MONGODB_URI` is set (the run says plainly when it skipped it).
//!
//! Each behaviour is one generic function in [`contract`]; `contract_tests!` runs each against
//! every adapter, in its own database.

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use hospital_crypto::{Keyring, SealedEnvelope};
use hospital_events::contracts::note_text_binding;
use hospital_notes_service::settings::DatabaseSettings;
use hospital_notes_service::store::{MongoNotes, PgNotes};
use hospital_test_support::{unique_name, TestDatabase};

/// The variable that names a MongoDB (or compatible) server for the suite, e.g.
/// `mongodb://user:password@127.0.0.1:27017/?authSource=admin`.
const MONGODB_URI: &str = "TEST_MONGODB_URI";

/// A PostgreSQL store in a fresh database, migrated; the database goes when the guard drops.
async fn postgres_store() -> (PgNotes, TestDatabase) {
    let db = TestDatabase::create("notes_contract")
        .await
        .expect("a test database");
    let store = PgNotes::connect(&db.url, 4).expect("pool");
    store.run_migrations().await.expect("migrations");
    (store, db)
}

/// A MongoDB database of its own, dropped when the test ends (even when it failed).
struct MongoTestDatabase {
    uri: String,
    name: String,
}

impl Drop for MongoTestDatabase {
    fn drop(&mut self) {
        // Drop runs outside async: a short-lived thread with its own runtime and client.
        let (uri, name) = (self.uri.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(mut options) = mongodb::options::ClientOptions::parse(&uri).await else {
                    return;
                };
                // Without a server, give up as soon as the store itself did.
                options.server_selection_timeout = Some(std::time::Duration::from_secs(5));
                if let Ok(client) = mongodb::Client::with_options(options) {
                    let _ = client.database(&name).drop().await;
                }
            });
        })
        .join();
    }
}

/// A MongoDB store in a database of its own, or `None` (said plainly) without a server.
async fn mongo_store() -> Option<(MongoNotes, MongoTestDatabase)> {
    let uri = std::env::var(MONGODB_URI)
        .ok()
        .filter(|uri| !uri.trim().is_empty());
    let Some(uri) = uri else {
        eprintln!("MongoDB contract suite SKIPPED: {MONGODB_URI} is not set");
        return None;
    };
    let guard = MongoTestDatabase {
        uri: uri.clone(),
        name: unique_name("notes_contract"),
    };
    let settings = DatabaseSettings {
        url: uri,
        pool_size: 4,
        name: guard.name.clone(),
    };
    let store = MongoNotes::connect_database(&settings, &guard.name)
        .await
        .unwrap_or_else(|e| panic!("cannot reach MongoDB at {MONGODB_URI}: {e}"));
    Some((store, guard))
}

/// Runs each named behaviour of [`contract`] against every adapter available.
macro_rules! contract_tests {
    ($($behaviour:ident),* $(,)?) => {$(
        mod $behaviour {
            // Multi-threaded: PostgreSQL's migrations run on a blocking thread.
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let (store, _db) = super::postgres_store().await;
                super::contract::$behaviour(&store).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mongodb() {
                if let Some((store, _db)) = super::mongo_store().await {
                    super::contract::$behaviour(&store).await;
                }
            }
        }
    )*};
}

contract_tests!(
    notes_read_back_exactly,
    a_duplicate_note_changes_nothing,
    notes_page_newest_first,
    access_log_pages_newest_first,
    idempotency_keys_reserve_and_expire,
    status_changes_are_compare_and_set,
    user_copies_keep_the_newest_assignment,
    the_outbox_hands_out_each_event_until_marked,
    rewrap_pages_by_id_and_replaces_by_compare_and_set,
);

/// What every adapter must do. Instants are whole milliseconds, as the routes make them.
mod contract {
    use hospital_events::contracts::NoteSubmitted;
    use hospital_events::Envelope;
    use hospital_notes_service::domain::{FailureCode, IdempotencyKey, NoteStatus};
    use hospital_notes_service::store::{
        submitted_message, AccessEntry, Inserted, KeyClaim, NewNote, NoteCursor, NoteRecord,
        NoteStore, PendingEvent, Reservation, SealedNote, StatusChange, UserCopy,
    };
    use hospital_platform::token::Role;
    use uuid::Uuid;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc::now().trunc_subsecs(3)
    }

    fn keyring(spec_kids: &[&str]) -> Keyring {
        let spec = spec_kids
            .iter()
            .map(|kid| format!("{kid}:{}", Keyring::generate_key().unwrap().as_str()))
            .collect::<Vec<_>>()
            .join(",");
        Keyring::from_spec(&spec).unwrap()
    }

    /// A note as the routes build it: sealed for its id, patient and author.
    fn new_note(
        keys: &Keyring,
        patient_id: Uuid,
        created_at: DateTime<Utc>,
        text: &str,
    ) -> NewNote {
        let (id, doctor_id) = (Uuid::now_v7(), Uuid::now_v7());
        NewNote {
            id,
            patient_id,
            doctor_id,
            created_at,
            text: keys
                .seal_str(text, &note_text_binding(id, patient_id, doctor_id))
                .unwrap(),
            event: PendingEvent {
                id: Uuid::now_v7(),
                occurred_at: created_at,
                correlation_id: Some(format!("req-{}", Uuid::now_v7().simple())),
                traceparent: Some(
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
                ),
            },
        }
    }

    async fn insert(store: &impl NoteStore, note: &NewNote) {
        assert_eq!(
            store.insert_note(note).await.unwrap(),
            Inserted::Created,
            "insert {}",
            note.id
        );
    }

    fn record_of(note: &NewNote) -> NoteRecord {
        NoteRecord {
            id: note.id,
            patient_id: note.patient_id,
            doctor_id: note.doctor_id,
            created_at: note.created_at,
            text: note.text.clone(),
            status: NoteStatus::Processing,
            failure: None,
        }
    }

    async fn status_of(store: &impl NoteStore, note_id: Uuid) -> (NoteStatus, Option<FailureCode>) {
        let note = store.note(note_id).await.unwrap().expect("the note exists");
        (note.status, note.failure)
    }

    fn sealed(note: &NewNote) -> SealedNote {
        SealedNote {
            id: note.id,
            patient_id: note.patient_id,
            doctor_id: note.doctor_id,
            text: note.text.clone(),
        }
    }

    pub async fn notes_read_back_exactly<S: NoteStore>(store: &S) {
        store.ping().await.unwrap();
        let keys = keyring(&["k1"]);
        let note = new_note(&keys, Uuid::now_v7(), now(), "Take amoxicillin 500 mg.");
        insert(store, &note).await;

        let stored = store.note(note.id).await.unwrap().expect("read back");
        assert_eq!(stored, record_of(&note));
        // The envelope byte for byte: it still opens with the same binding.
        assert_eq!(stored.text.ciphertext, note.text.ciphertext);
        assert_eq!(stored.text.wrapped_key, note.text.wrapped_key);
        let binding = note_text_binding(note.id, note.patient_id, note.doctor_id);
        assert_eq!(
            keys.open_str(&stored.text, &binding).unwrap().as_str(),
            "Take amoxicillin 500 mg."
        );
        assert_eq!(store.note(Uuid::now_v7()).await.unwrap(), None);
    }

    pub async fn a_duplicate_note_changes_nothing<S: NoteStore>(store: &S) {
        let keys = keyring(&["k1"]);
        let first = new_note(&keys, Uuid::now_v7(), now(), "first");
        insert(store, &first).await;

        // Same id, everything else different (a racing request with the same key).
        let mut second = new_note(
            &keys,
            Uuid::now_v7(),
            now() + TimeDelta::seconds(5),
            "second",
        );
        second.id = first.id;
        assert_eq!(
            store.insert_note(&second).await.unwrap(),
            Inserted::AlreadyExists
        );
        assert_eq!(store.note(first.id).await.unwrap(), Some(record_of(&first)));
        let pending = store.pending_events(10).await.unwrap();
        assert_eq!(
            pending.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![first.event.id],
            "the second note's event was not written"
        );
        assert!(store
            .notes_of(second.patient_id, None, 10)
            .await
            .unwrap()
            .is_empty());
    }

    pub async fn notes_page_newest_first<S: NoteStore>(store: &S) {
        let keys = keyring(&["k1"]);
        let (patient, other) = (Uuid::now_v7(), Uuid::now_v7());
        let t = now();
        // Two notes share an instant: the id orders them.
        let offsets = [0, 10, 10, 20, 30];
        let mut notes = Vec::new();
        for (i, seconds) in offsets.iter().enumerate() {
            let note = new_note(
                &keys,
                patient,
                t + TimeDelta::seconds(*seconds),
                &format!("note {i}"),
            );
            insert(store, &note).await;
            notes.push(note);
        }
        insert(
            store,
            &new_note(&keys, other, t + TimeDelta::seconds(40), "other"),
        )
        .await;
        let mut expected: Vec<NoteRecord> = notes.iter().map(record_of).collect();
        expected.sort_by_key(|n| std::cmp::Reverse((n.created_at, n.id)));

        assert_eq!(store.notes_of(patient, None, 10).await.unwrap(), expected);
        let mut pages = Vec::new();
        let mut before = None;
        loop {
            let page = store.notes_of(patient, before, 2).await.unwrap();
            assert!(page.len() <= 2);
            let Some(last) = page.last() else { break };
            before = Some(NoteCursor {
                created_at: last.created_at,
                id: last.id,
            });
            pages.push(page.iter().map(|n| n.id).collect::<Vec<_>>());
        }
        let ids: Vec<Uuid> = expected.iter().map(|n| n.id).collect();
        assert_eq!(
            pages,
            vec![ids[0..2].to_vec(), ids[2..4].to_vec(), ids[4..].to_vec()]
        );
        // A cursor between the two equal instants.
        let cursor = NoteCursor {
            created_at: expected[2].created_at,
            id: expected[2].id,
        };
        assert_eq!(expected[2].created_at, expected[3].created_at);
        assert_eq!(
            store.notes_of(patient, Some(cursor), 10).await.unwrap(),
            expected[3..].to_vec()
        );
        assert!(store
            .notes_of(Uuid::now_v7(), None, 10)
            .await
            .unwrap()
            .is_empty());
    }

    pub async fn access_log_pages_newest_first<S: NoteStore>(store: &S) {
        let (patient, other, note) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let (doctor, at) = (Uuid::now_v7(), now());
        store.record_reads(&[]).await.unwrap();
        let entry = |patient_id: Uuid, reader_id: Uuid, reader_role: Role, i: i64| AccessEntry {
            id: Uuid::now_v7(),
            patient_id,
            note_id: note,
            reader_id,
            reader_role,
            at: at + TimeDelta::milliseconds(i),
        };
        let mut entries = vec![
            entry(patient, doctor, Role::Doctor, 0),
            entry(patient, patient, Role::Patient, 1),
            entry(patient, doctor, Role::Doctor, 2),
        ];
        store.record_reads(&entries).await.unwrap();
        let later = vec![
            entry(patient, doctor, Role::Doctor, 3),
            entry(other, other, Role::Patient, 4),
            entry(patient, doctor, Role::Doctor, 5),
        ];
        store.record_reads(&later).await.unwrap();
        entries.extend(later.into_iter().filter(|e| e.patient_id == patient));
        // UUID v7 ids order entries in time.
        entries.sort_by_key(|e| std::cmp::Reverse(e.id));

        assert_eq!(store.access_log(patient, None, 10).await.unwrap(), entries);
        let first = store.access_log(patient, None, 3).await.unwrap();
        assert_eq!(first, entries[..3]);
        let second = store
            .access_log(patient, Some(first[2].id), 3)
            .await
            .unwrap();
        assert_eq!(second, entries[3..]);
        assert!(store
            .access_log(patient, Some(second[1].id), 3)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.access_log(other, None, 10).await.unwrap().len(), 1);
    }

    pub async fn idempotency_keys_reserve_and_expire<S: NoteStore>(store: &S) {
        let t = now();
        let (doctor, other_doctor) = (Uuid::now_v7(), Uuid::now_v7());
        let claim = |doctor_id: Uuid, key: &str, now: DateTime<Utc>| KeyClaim {
            doctor_id,
            key: IdempotencyKey::parse(key).unwrap(),
            note_id: Uuid::now_v7(),
            patient_id: Uuid::now_v7(),
            now,
            expires_at: now + TimeDelta::hours(24),
        };
        let first = claim(doctor, "retry-1", t);
        assert_eq!(
            store.reserve_key(&first).await.unwrap(),
            Reservation::Reserved
        );
        let held = Reservation::Held {
            note_id: first.note_id,
            patient_id: first.patient_id,
        };
        // The same doctor again, before expiry: the first claim holds, whatever this one says.
        let again = claim(doctor, "retry-1", t + TimeDelta::hours(23));
        assert_eq!(store.reserve_key(&again).await.unwrap(), held);
        // Another doctor's key of the same name, and another key of the same doctor.
        assert_eq!(
            store
                .reserve_key(&claim(other_doctor, "retry-1", t))
                .await
                .unwrap(),
            Reservation::Reserved
        );
        assert_eq!(
            store
                .reserve_key(&claim(doctor, "retry-2", t))
                .await
                .unwrap(),
            Reservation::Reserved
        );
        assert_eq!(store.reserve_key(&again).await.unwrap(), held);

        // At its expiry instant the key is free again, for a new claim that then holds it.
        let after = claim(doctor, "retry-1", first.expires_at);
        assert_eq!(
            store.reserve_key(&after).await.unwrap(),
            Reservation::Reserved
        );
        assert_eq!(
            store
                .reserve_key(&claim(
                    doctor,
                    "retry-1",
                    first.expires_at + TimeDelta::seconds(1)
                ))
                .await
                .unwrap(),
            Reservation::Held {
                note_id: after.note_id,
                patient_id: after.patient_id,
            }
        );
    }

    pub async fn status_changes_are_compare_and_set<S: NoteStore>(store: &S) {
        let keys = keyring(&["k1"]);
        let patient = Uuid::now_v7();
        let [a, b, c] = ["a", "b", "c"].map(|text| new_note(&keys, patient, now(), text));
        for note in [&a, &b, &c] {
            insert(store, note).await;
        }
        let at = now();
        let code = FailureCode::ProviderUnavailable;

        // processing → processed, and it stays so.
        assert_eq!(
            store.mark_processed(a.id, patient, at).await.unwrap(),
            StatusChange::Changed
        );
        assert_eq!(status_of(store, a.id).await, (NoteStatus::Processed, None));
        assert_eq!(
            store.mark_processed(a.id, patient, at).await.unwrap(),
            StatusChange::Unchanged
        );
        assert_eq!(
            store.mark_failed(a.id, patient, code, at).await.unwrap(),
            StatusChange::Unchanged
        );
        assert_eq!(status_of(store, a.id).await, (NoteStatus::Processed, None));

        // processing → failed (once), then failed → processed clears the code.
        assert_eq!(
            store.mark_failed(b.id, patient, code, at).await.unwrap(),
            StatusChange::Changed
        );
        assert_eq!(
            status_of(store, b.id).await,
            (NoteStatus::Failed, Some(code))
        );
        assert_eq!(
            store
                .mark_failed(b.id, patient, FailureCode::InvalidOutput, at)
                .await
                .unwrap(),
            StatusChange::Unchanged
        );
        assert_eq!(
            status_of(store, b.id).await,
            (NoteStatus::Failed, Some(code))
        );
        assert_eq!(
            store.mark_processed(b.id, patient, at).await.unwrap(),
            StatusChange::Changed
        );
        assert_eq!(status_of(store, b.id).await, (NoteStatus::Processed, None));

        // Another patient's id, or no such note: unknown, and nothing changed.
        let stranger = Uuid::now_v7();
        assert_eq!(
            store.mark_processed(c.id, stranger, at).await.unwrap(),
            StatusChange::UnknownNote
        );
        assert_eq!(
            store.mark_failed(c.id, stranger, code, at).await.unwrap(),
            StatusChange::UnknownNote
        );
        assert_eq!(
            store
                .mark_processed(Uuid::now_v7(), patient, at)
                .await
                .unwrap(),
            StatusChange::UnknownNote
        );
        assert_eq!(status_of(store, c.id).await, (NoteStatus::Processing, None));
    }

    pub async fn user_copies_keep_the_newest_assignment<S: NoteStore>(store: &S) {
        let t = now();
        let at = |seconds: i64| t + TimeDelta::seconds(seconds);
        let (doctor, patient) = (Uuid::now_v7(), Uuid::now_v7());
        let (d1, d2, d3) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let copy = |id: Uuid, role: Option<Role>, doctor_id: Option<Uuid>| UserCopy {
            id,
            role,
            doctor_id,
        };

        assert_eq!(store.user(doctor).await.unwrap(), None);
        store
            .apply_registration(doctor, Role::Doctor, at(0))
            .await
            .unwrap();
        store
            .apply_registration(doctor, Role::Doctor, at(1))
            .await
            .unwrap();
        assert_eq!(
            store.user(doctor).await.unwrap(),
            Some(copy(doctor, Some(Role::Doctor), None))
        );

        // The assignment arrives before the registration.
        assert!(store
            .apply_assignment(patient, Some(d1), at(10), at(11))
            .await
            .unwrap());
        assert_eq!(
            store.user(patient).await.unwrap(),
            Some(copy(patient, None, Some(d1)))
        );
        store
            .apply_registration(patient, Role::Patient, at(12))
            .await
            .unwrap();
        assert_eq!(
            store.user(patient).await.unwrap(),
            Some(copy(patient, Some(Role::Patient), Some(d1)))
        );

        // Newer wins; older and equal are ignored; a newer "no doctor" wins too.
        assert!(store
            .apply_assignment(patient, Some(d2), at(20), at(21))
            .await
            .unwrap());
        assert!(!store
            .apply_assignment(patient, Some(d3), at(15), at(22))
            .await
            .unwrap());
        assert!(!store
            .apply_assignment(patient, Some(d3), at(20), at(23))
            .await
            .unwrap());
        assert_eq!(
            store.user(patient).await.unwrap(),
            Some(copy(patient, Some(Role::Patient), Some(d2)))
        );
        assert!(store
            .apply_assignment(patient, None, at(30), at(31))
            .await
            .unwrap());
        assert_eq!(
            store.user(patient).await.unwrap(),
            Some(copy(patient, Some(Role::Patient), None))
        );

        // A registered user's first assignment.
        let registered = Uuid::now_v7();
        store
            .apply_registration(registered, Role::Patient, at(0))
            .await
            .unwrap();
        assert!(store
            .apply_assignment(registered, Some(d3), at(1), at(1))
            .await
            .unwrap());
        assert_eq!(
            store.user(registered).await.unwrap(),
            Some(copy(registered, Some(Role::Patient), Some(d3)))
        );

        // A stale assignment for a user not seen before is still applied (nothing newer).
        let newcomer = Uuid::now_v7();
        assert!(store
            .apply_assignment(newcomer, Some(d1), at(-100), at(0))
            .await
            .unwrap());
        assert!(!store
            .apply_assignment(newcomer, Some(d2), at(-200), at(0))
            .await
            .unwrap());
        assert_eq!(
            store.user(newcomer).await.unwrap(),
            Some(copy(newcomer, None, Some(d1)))
        );
    }

    pub async fn the_outbox_hands_out_each_event_until_marked<S: NoteStore>(store: &S) {
        let keys = keyring(&["k1"]);
        let t = now();
        let mut notes: Vec<NewNote> = (0..3)
            .map(|i| {
                new_note(
                    &keys,
                    Uuid::now_v7(),
                    t + TimeDelta::milliseconds(i),
                    &format!("note {i}"),
                )
            })
            .collect();
        notes[2].event.correlation_id = None;
        notes[2].event.traceparent = None;
        // Written out of order: handed out by the event's instant.
        for i in [2, 0, 1] {
            insert(store, &notes[i]).await;
        }
        let expected: Vec<_> = notes
            .iter()
            .map(|n| submitted_message(&sealed(n), n.created_at, &n.event).unwrap())
            .collect();

        let pending = store.pending_events(10).await.unwrap();
        assert_eq!(pending, expected);
        let envelope = Envelope::<NoteSubmitted>::from_bytes(&pending[0].payload).unwrap();
        assert_eq!(envelope.id, notes[0].event.id);
        assert_eq!(envelope.data.note_id, notes[0].id);
        assert_eq!(envelope.data.text, notes[0].text);
        assert_eq!(envelope.correlation_id, notes[0].event.correlation_id);
        assert_eq!(store.pending_events(2).await.unwrap(), expected[..2]);

        store.mark_published(&[], t).await.unwrap();
        store
            .mark_published(&[notes[0].event.id, notes[1].event.id], t)
            .await
            .unwrap();
        assert_eq!(store.pending_events(10).await.unwrap(), expected[2..]);
        // Marking again (a relay that restarted mid-batch) changes nothing.
        store
            .mark_published(&[notes[0].event.id, Uuid::now_v7()], t)
            .await
            .unwrap();
        assert_eq!(store.pending_events(10).await.unwrap(), expected[2..]);
        store.mark_published(&[notes[2].event.id], t).await.unwrap();
        assert!(store.pending_events(10).await.unwrap().is_empty());
        // Publishing changed nothing else.
        assert_eq!(
            store.note(notes[0].id).await.unwrap(),
            Some(record_of(&notes[0]))
        );
    }

    pub async fn rewrap_pages_by_id_and_replaces_by_compare_and_set<S: NoteStore>(store: &S) {
        let (k1, k2) = (
            Keyring::generate_key().unwrap(),
            Keyring::generate_key().unwrap(),
        );
        let old_keys = Keyring::from_spec(&format!("k1:{}", k1.as_str())).unwrap();
        let new_keys =
            Keyring::from_spec(&format!("k1:{},k2:{}", k1.as_str(), k2.as_str())).unwrap();
        let mut notes: Vec<NewNote> = (0..3)
            .map(|i| new_note(&old_keys, Uuid::now_v7(), now(), &format!("note {i}")))
            .collect();
        for note in &notes {
            insert(store, note).await;
        }
        notes.sort_by_key(|n| n.id);
        let expected: Vec<SealedNote> = notes.iter().map(sealed).collect();

        assert_eq!(store.sealed_notes(None, 10).await.unwrap(), expected);
        let first = store.sealed_notes(None, 2).await.unwrap();
        assert_eq!(first, expected[..2]);
        let second = store.sealed_notes(Some(first[1].id), 2).await.unwrap();
        assert_eq!(second, expected[2..]);
        assert!(store
            .sealed_notes(Some(second[0].id), 2)
            .await
            .unwrap()
            .is_empty());

        // The first note's data key moves to k2; its ciphertext stays.
        let note = &notes[0];
        let binding = note_text_binding(note.id, note.patient_id, note.doctor_id);
        let rewrapped: SealedEnvelope = new_keys.rewrap(&note.text, &binding).unwrap();
        assert_eq!(rewrapped.kid, "k2");
        assert!(store
            .replace_text(note.id, &note.text, &rewrapped)
            .await
            .unwrap());
        let stored = store.note(note.id).await.unwrap().unwrap();
        assert_eq!(stored.text, rewrapped);
        assert_eq!(
            new_keys.open_str(&stored.text, &binding).unwrap().as_str(),
            "note 0"
        );
        // A stale `old` (another run replaced it meanwhile) changes nothing.
        let other = new_keys.rewrap(&note.text, &binding).unwrap();
        assert!(!store
            .replace_text(note.id, &note.text, &other)
            .await
            .unwrap());
        assert_eq!(store.note(note.id).await.unwrap().unwrap().text, rewrapped);
        assert!(!store
            .replace_text(Uuid::now_v7(), &note.text, &other)
            .await
            .unwrap());
        // The other notes are untouched.
        assert_eq!(
            store.note(notes[1].id).await.unwrap(),
            Some(record_of(&notes[1]))
        );
    }
}
