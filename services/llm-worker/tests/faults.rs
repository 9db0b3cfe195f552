//! The llm-worker under faults, on the real RabbitMQ: killed with SIGKILL while the model
//! answers and in the middle of a burst, and cut from the broker during a burst. Every
//! note ends with one `steps.extracted`, under one event id however often it is
//! delivered; none is lost or parked. Every note carries a marker word that no log line
//! and no message body may show, also when the provider's errors quote the note.

// Test helpers may fail loudly: a panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_model;
mod faults {
    pub mod logs;
    pub mod process;
    pub mod stage;
}

use std::time::{Duration, Instant};

use hospital_events::contracts::Extractor;
use hospital_llm_worker::provider::ProviderKind;
use hospital_llm_worker::Application;
use hospital_test_support::amqp::{amqp_url_via, broker_gate};

use fake_model::{FakeModel, Reply};
use faults::logs::CapturedLogs;
use faults::process::{Log, WorkerProcess};
use faults::stage::{assert_no_marker, Stage};

/// The worker's settings for the fake OpenAI server.
fn openai_env(fake: &FakeModel) -> Vec<(&'static str, String)> {
    vec![
        ("LLM__EXTRACTION__PROVIDER", "openai".to_owned()),
        ("LLM__EXTRACTION__BASE_URL", fake.base_url()),
        ("LLM__EXTRACTION__MODEL", "gpt-4o-mini".to_owned()),
        ("LLM__EXTRACTION__API_KEY", "test-key".to_owned()),
    ]
}

/// The notes the fake was asked about, in the order the requests came.
fn notes_asked(fake: &FakeModel) -> Vec<String> {
    fake.requests()
        .iter()
        .map(|request| fake_model::note_of(ProviderKind::OpenAi, &request.body).unwrap())
        .collect()
}

fn as_env<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

/// Polls `done` every 5 ms for up to `within`; fails early, with its log, if the worker
/// exits.
async fn wait_until(
    what: &str,
    within: Duration,
    worker: &mut WorkerProcess,
    log: &Log,
    mut done: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + within;
    while !done() {
        worker.assert_running(log);
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_the_model_answers_a_note_is_extracted_once_after_a_restart() {
    let stage = Stage::new().await;
    // The first call is not answered within the test: the worker is killed while it waits.
    let fake = FakeModel::start(ProviderKind::OpenAi, Reply::Honest);
    fake.script([Reply::After(
        Duration::from_secs(3600),
        Box::new(Reply::Honest),
    )]);
    let env = openai_env(&fake);
    let log = Log::new("kill-openai");
    let notes = stage.notes(1);
    let mut first = WorkerProcess::spawn(&stage, &as_env(&env), &log);
    stage.publish(&notes).await;
    wait_until(
        "the worker to call the model",
        Duration::from_secs(15),
        &mut first,
        &log,
        || !fake.requests().is_empty(),
    )
    .await;
    first.kill();
    assert!(
        stage.published().is_empty(),
        "nothing is published while the model has not answered"
    );

    let mut second = WorkerProcess::spawn(&stage, &as_env(&env), &log);
    let done = stage
        .assert_each_extracted_once(&notes, Duration::from_secs(15), Duration::from_millis(1500))
        .await;
    second.assert_running(&log);
    let steps = &done[&notes[0].data.note_id];
    assert_eq!(
        steps.deliveries, 1,
        "one steps.extracted, not a second publish"
    );
    assert_eq!(steps.events[0].data.extractor, Extractor::Openai);
    assert!(!steps.events[0].data.fallback);
    assert_eq!(
        notes_asked(&fake),
        vec![stage.note_text(0); 2],
        "the held call, then the restarted worker's"
    );
    assert!(stage
        .first_plan_title(&steps.events[0])
        .contains(&stage.marker));
    second.kill();

    let parked = stage.drain_parked(&stage.settings()).await;
    assert!(parked.dead.is_empty(), "nothing parked");
    stage.assert_no_marker_in_bodies(&parked);
    let logged = log.read();
    assert!(logged.contains("steps extracted"), "the log was captured");
    assert_no_marker(&stage.marker, "the worker's log", logged.as_bytes());
    fake.stop().await;
    stage.clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_burst_every_note_is_extracted_under_one_event_id_after_a_restart() {
    let stage = Stage::new().await;
    let log = Log::new("kill-burst");
    let notes = stage.notes(200);
    let started = Instant::now();
    let mut first = WorkerProcess::spawn(&stage, &[], &log);
    stage.publish(&notes).await;
    wait_until(
        "half the notes to be extracted",
        Duration::from_secs(20),
        &mut first,
        &log,
        || stage.published().len() >= notes.len() / 2,
    )
    .await;
    first.kill();
    // What the killed worker published, stragglers on their way to the recorder included.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before_kill = stage.steps_by_note().len();
    assert!(
        before_kill < notes.len(),
        "the kill came after every note was extracted: it tested nothing"
    );

    let mut second = WorkerProcess::spawn(&stage, &[], &log);
    let done = stage
        .assert_each_extracted_once(&notes, Duration::from_secs(20), Duration::from_millis(1500))
        .await;
    second.assert_running(&log);
    let deliveries: usize = done.values().map(|steps| steps.deliveries).sum();
    eprintln!(
        "{} notes: {before_kill} extracted before the kill, {} after; {deliveries} steps.extracted \
         delivered ({} repeated under the same id); {:?} in all",
        notes.len(),
        notes.len() - before_kill,
        deliveries - notes.len(),
        started.elapsed()
    );
    assert!(done
        .values()
        .all(|steps| steps.events[0].data.extractor == Extractor::Offline
            && !steps.events[0].data.fallback));
    second.kill();

    let parked = stage.drain_parked(&stage.settings()).await;
    assert!(parked.dead.is_empty(), "nothing parked");
    stage.assert_no_marker_in_bodies(&parked);
    let logged = log.read();
    assert!(logged.contains("steps extracted"), "the log was captured");
    assert_no_marker(&stage.marker, "the worker's log", logged.as_bytes());
    stage.clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_broker_gone_mid_burst_every_note_is_extracted_once_and_none_is_parked() {
    let logs = CapturedLogs::install();
    let stage = Stage::new().await;
    // Model calls of 50 ms: 200 notes take the worker long enough to cut the broker in the
    // middle of them.
    let fake = FakeModel::start(
        ProviderKind::OpenAi,
        Reply::After(Duration::from_millis(50), Box::new(Reply::Honest)),
    );
    let gate = broker_gate().expect("a gate in front of the broker");
    gate.open().await.expect("the gate opens");
    let mut settings = stage.settings();
    settings.events.amqp_url = amqp_url_via(gate.port());
    settings.extraction.provider = "openai".into();
    settings.extraction.base_url = fake.base_url();
    let app = Application::build(settings.clone()).await.unwrap();
    let shutdown = app.shutdown_token();
    let running = tokio::spawn(app.run_until_stopped());

    let notes = stage.notes(200);
    let started = Instant::now();
    stage.publish(&notes).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while stage.published().len() < notes.len() / 4 {
        assert!(Instant::now() < deadline, "the worker extracts nothing");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gate.close().await;
    let cut_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before_cut = stage.steps_by_note().len();
    assert!(
        before_cut < notes.len(),
        "the cut came after every note was extracted: it tested nothing"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        stage.steps_by_note().len(),
        before_cut,
        "nothing is published while the broker is cut off"
    );
    gate.open().await.expect("the gate opens again");
    let reopened_at = Instant::now();
    // The consumer reconnects within its backoff (3.2 s after a cut this long).
    while logs.text().matches(r#""message":"consuming""#).count() < 2 {
        assert!(
            reopened_at.elapsed() < Duration::from_secs(15),
            "the consumer did not reconnect within 15 s of the broker's return (a session waits \
             for every in-flight delivery before reconnecting: one that never finishes, such \
             as an ack on the dead connection, holds it forever)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let reconnected_in = reopened_at.elapsed();

    let settle = Duration::from_millis(1500);
    let done = stage
        .assert_each_extracted_once(&notes, Duration::from_secs(25), settle)
        .await;
    let drained_in = reopened_at
        .elapsed()
        .saturating_sub(reconnected_in)
        .saturating_sub(settle);
    let deliveries: usize = done.values().map(|steps| steps.deliveries).sum();
    eprintln!(
        "{} notes: {before_cut} extracted before the cut; cut for {:?}; the consumer back \
         {reconnected_in:?} after the broker, the rest extracted in {:?}; \
         {deliveries} steps.extracted delivered ({} repeated under the same id); {:?} in all",
        notes.len(),
        reopened_at - cut_at,
        drained_in,
        deliveries - notes.len(),
        started.elapsed()
    );
    shutdown.cancel();
    running.await.unwrap().unwrap();

    let parked = stage.drain_parked(&settings).await;
    assert!(parked.dead.is_empty(), "{} notes parked", parked.dead.len());
    stage.assert_no_marker_in_bodies(&parked);
    let logged = logs.text();
    assert!(
        logged.contains("consumer lost the broker"),
        "the worker saw the cut, and the log was captured"
    );
    assert_no_marker(&stage.marker, "the worker's log", logged.as_bytes());
    fake.stop().await;
    stage.clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_worker_logs_no_word_of_a_note_its_provider_quotes_back() {
    let stage = Stage::new().await;
    let notes = stage.notes(5);
    // One note at a time, so the script's replies go to the notes in order; each reply
    // quotes its note.
    let error = |i: usize, status: u16, message: &str| Reply::Raw {
        status,
        headers: vec![],
        body: serde_json::json!({"error": {
            "message": format!("{message}: {:?}", stage.note_text(i)),
            "type": if status < 500 { "invalid_request_error" } else { "server_error" },
            "param": "messages",
            "code": null,
        }})
        .to_string(),
    };
    let gateway_page = Reply::Raw {
        status: 502,
        headers: vec![],
        body: format!(
            "<html><body>Bad gateway for <pre>{}</pre></body></html>",
            stage.note_text(2)
        ),
    };
    let prose = Reply::Answer(format!(
        "Here is what the note says: {}",
        stage.note_text(3)
    ));
    let refusal = Reply::Raw {
        status: 200,
        headers: vec![],
        body: serde_json::json!({"choices": [{"index": 0, "finish_reason": "stop", "message": {
            "role": "assistant",
            "content": null,
            "refusal": format!("I cannot help with: {}", stage.note_text(4)),
        }}]})
        .to_string(),
    };
    let fake = FakeModel::start(ProviderKind::OpenAi, error(0, 400, "Invalid content"));
    fake.script([
        // Not retried.
        error(0, 400, "Invalid 'messages[1].content'"),
        // Retried once (two attempts).
        error(1, 500, "The server had an error while processing"),
        error(1, 500, "The server had an error while processing"),
        gateway_page.clone(),
        gateway_page,
        // Sent back once with what was wrong.
        prose.clone(),
        prose,
        refusal,
    ]);
    let mut env = openai_env(&fake);
    env.extend([
        ("LLM__EVENTS__CONCURRENCY", "1".to_owned()),
        ("LLM__EXTRACTION__MAX_ATTEMPTS", "2".to_owned()),
        ("LLM__EXTRACTION__BACKOFF_INITIAL_MS", "10".to_owned()),
        ("LLM__EXTRACTION__BACKOFF_MAX_MS", "50".to_owned()),
        // Every note meets its own error; none is skipped by an open circuit.
        ("LLM__EXTRACTION__BREAKER_FAILURES", "100".to_owned()),
    ]);
    let log = Log::new("provider-errors");
    let mut worker = WorkerProcess::spawn(&stage, &as_env(&env), &log);
    stage.publish(&notes).await;
    let done = stage
        .assert_each_extracted_once(&notes, Duration::from_secs(20), Duration::from_millis(500))
        .await;
    worker.assert_running(&log);
    for steps in done.values() {
        let event = &steps.events[0].data;
        assert_eq!(
            (event.extractor, event.fallback),
            (Extractor::Offline, true),
            "the offline extractor stood in"
        );
    }
    let asked = notes_asked(&fake);
    assert_eq!(asked.len(), 8, "every scripted reply was given");
    for i in 0..notes.len() {
        assert!(
            asked.contains(&stage.note_text(i)),
            "the provider was asked about note {i}"
        );
    }
    worker.kill();

    let logged = log.read();
    for line in [
        "the provider answered an error",
        "the model's answer was refused",
        "the offline extractor reads the note instead",
    ] {
        assert!(logged.contains(line), "the log was captured: no {line:?}");
    }
    assert_no_marker(&stage.marker, "the worker's log", logged.as_bytes());
    let parked = stage.drain_parked(&stage.settings()).await;
    assert!(parked.dead.is_empty(), "nothing parked");
    stage.assert_no_marker_in_bodies(&parked);
    fake.stop().await;
    stage.clean().await;
}
