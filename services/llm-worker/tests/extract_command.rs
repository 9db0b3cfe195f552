//! `llm-worker extract` as a caller sees it: the built binary, stdin in, stdout out.

// Test helpers may fail loudly: a panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fake_model;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use fake_model::{FakeModel, Reply};
use hospital_llm_worker::provider::ProviderKind;

fn run(args: &[&str], stdin: &[u8]) -> Output {
    run_with(args, stdin, &[])
}

fn run_with(args: &[&str], stdin: &[u8], env: &[(&str, String)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_llm-worker"))
        .args(args)
        .env_remove("LLM__EXTRACTION__PROVIDER")
        .env_remove("LLM__EXTRACTION__API_KEY")
        .env_remove("LLM__EXTRACTION__BASE_URL")
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut input = child.stdin.take().expect("stdin");
    // The command may refuse before reading everything; a broken pipe is then expected.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().expect("the binary ends")
}

#[test]
fn prints_the_steps_of_a_note() {
    let out = run(
        &["extract"],
        b"Rapid strep positive. Buy amoxicillin 500 mg capsules today. Take one capsule three times a day for 10 days.",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steps: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(
        steps["checklist"][0]["title"],
        "Buy amoxicillin 500 mg capsules today"
    );
    assert_eq!(steps["plan"][0]["title"], "Take amoxicillin 500 mg");
    assert_eq!(
        steps["plan"][0]["schedule"],
        serde_json::json!({"kind": "times_per_day", "times_per_day": 3})
    );
    assert_eq!(
        steps["plan"][0]["duration"],
        serde_json::json!({"days": 10})
    );
    assert_eq!(
        steps["plan"][0]["source"],
        "Take one capsule three times a day for 10 days."
    );
}

#[test]
fn the_offline_provider_can_be_named() {
    let out = run(
        &["extract", "--provider", "offline"],
        b"Warfarin 5 mg at 18:00 every day.",
    );
    assert!(out.status.success());
    let steps: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(
        steps["plan"][0]["schedule"],
        serde_json::json!({"kind": "fixed_times", "times": ["18:00"]})
    );
}

#[test]
fn an_empty_note_has_no_steps() {
    let out = run(&["extract"], b"");
    assert!(out.status.success());
    let steps: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(steps, serde_json::json!({"checklist": [], "plan": []}));
}

#[test]
fn twenty_thousand_characters_are_accepted_and_one_more_is_refused() {
    // Multi-byte characters: the limit counts characters, not bytes.
    let ok = "é".repeat(20_000);
    assert!(run(&["extract"], ok.as_bytes()).status.success());
    let long = "a".repeat(20_001);
    let out = run(&["extract"], long.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("20000 characters"), "{err}");
}

#[test]
fn invalid_utf8_is_refused() {
    let out = run(&["extract"], &[b'T', b'a', 0xff, 0xfe, b'k']);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("UTF-8"));
}

#[test]
fn unknown_providers_and_missing_provider_settings_are_refused() {
    for (provider, words) in [
        ("gemini", "LLM__EXTRACTION__API_KEY is required for gemini"),
        ("nope", "unknown provider"),
    ] {
        let out = run(&["extract", "--provider", provider], b"Take it daily.");
        assert_eq!(out.status.code(), Some(2), "{provider}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(words),
            "{provider}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty());
    }
    let out = run_with(
        &["extract", "--provider", "openai"],
        b"Take it daily.",
        &[("LLM__EXTRACTION__BASE_URL", "ftp://model".into())],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LLM__EXTRACTION__BASE_URL"));
    assert_eq!(run(&["consume"], b"").status.code(), Some(2));
}

#[tokio::test]
async fn a_model_provider_prints_its_validated_steps_or_says_the_offline_extractor_stood_in() {
    let note =
        "Buy amoxicillin 500 mg capsules today. Take one capsule three times a day for 7 days.";
    let offline = serde_json::to_value(hospital_llm_worker::extract(note)).unwrap();
    for kind in [ProviderKind::OpenAi, ProviderKind::Gemini] {
        let model = FakeModel::start(kind, Reply::Honest);
        let env = vec![
            ("LLM__EXTRACTION__BASE_URL", model.base_url()),
            ("LLM__EXTRACTION__API_KEY", "test-key".to_owned()),
        ];
        let args = ["extract", "--provider", kind.name()];
        let out = tokio::task::spawn_blocking({
            let env = env.clone();
            move || run_with(&args, note.as_bytes(), &env)
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            printed, offline,
            "the honest model answers what offline finds"
        );
        assert_eq!(model.requests().len(), 1);
        model.stop().await;

        let garbage = FakeModel::start(kind, Reply::Answer("no steps today".into()));
        let env = vec![
            ("LLM__EXTRACTION__BASE_URL", garbage.base_url()),
            ("LLM__EXTRACTION__API_KEY", "test-key".to_owned()),
        ];
        let out = tokio::task::spawn_blocking(move || run_with(&args, note.as_bytes(), &env))
            .await
            .unwrap();
        assert!(out.status.success());
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(printed, offline);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "the offline extractor stood in for the provider ({} invalid answer: no_json)",
                kind.name()
            )),
            "{stderr}"
        );
        garbage.stop().await;
    }
}

#[test]
fn without_a_command_it_serves_and_refuses_to_start_without_its_keys() {
    let out = Command::new(env!("CARGO_BIN_EXE_llm-worker"))
        .env_remove("LLM__CRYPTO__KEYS")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LLM__CRYPTO__KEYS"));
}
