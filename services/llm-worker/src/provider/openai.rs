//! The OpenAI-compatible wire format: `POST {base_url}/chat/completions` with a strict
//! `json_schema` response format (OpenAI, Ollama, vLLM, llama.cpp server).

use serde::Deserialize;

use super::{prompt, ProviderError, Turn};

pub fn endpoint(base_url: &str) -> String {
    format!("{}/chat/completions", base_url.trim_end_matches('/'))
}

pub fn request_body(model: &str, temperature: Option<f64>, turns: &[Turn]) -> serde_json::Value {
    let mut messages =
        vec![serde_json::json!({"role": "system", "content": prompt::SYSTEM_PROMPT})];
    messages.extend(turns.iter().map(|turn| match turn {
        Turn::User(text) => serde_json::json!({"role": "user", "content": text}),
        Turn::Model(text) => serde_json::json!({"role": "assistant", "content": text}),
    }));
    let mut body = serde_json::json!({
        "model": model,
        "messages": messages,
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "actionable_steps",
                "strict": true,
                "schema": prompt::response_json_schema(),
            },
        },
    });
    if let Some(temperature) = temperature {
        body["temperature"] = temperature.into();
    }
    body
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    message: AssistantMessage,
}

#[derive(Deserialize)]
struct AssistantMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

/// The answer's text: the first choice's content.
pub fn answer_text(body: &[u8]) -> Result<String, ProviderError> {
    let completion: Completion =
        serde_json::from_slice(body).map_err(|_| ProviderError::Malformed)?;
    let message = completion
        .choices
        .into_iter()
        .next()
        .ok_or(ProviderError::Malformed)?
        .message;
    if message.refusal.is_some_and(|refusal| !refusal.is_empty()) {
        return Err(ProviderError::Refused);
    }
    message.content.ok_or(ProviderError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_the_contract_the_note_and_the_strict_schema() {
        let turns = [
            Turn::User(prompt::note_message("Take aspirin daily.")),
            Turn::Model("{}".into()),
            Turn::User("again".into()),
        ];
        let body = request_body("gpt-4o-mini", Some(0.0), &turns);
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["messages"][2]["role"], "assistant");
        assert_eq!(body["messages"].as_array().unwrap().len(), 4);
        assert_eq!(body["response_format"]["json_schema"]["strict"], true);
        assert_eq!(body["temperature"], 0.0);
        assert!(request_body("m", None, &turns).get("temperature").is_none());
        assert_eq!(endpoint("http://x/v1/"), "http://x/v1/chat/completions");
    }

    #[test]
    fn the_answer_is_the_first_choices_content() {
        let ok = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"{\"a\":1}"},"finish_reason":"stop"}]}"#;
        assert_eq!(answer_text(ok).unwrap(), "{\"a\":1}");
        let refused =
            br#"{"choices":[{"message":{"role":"assistant","content":null,"refusal":"no"}}]}"#;
        assert!(matches!(answer_text(refused), Err(ProviderError::Refused)));
        assert!(matches!(
            answer_text(b"{\"choices\":[]}"),
            Err(ProviderError::Malformed)
        ));
        assert!(matches!(
            answer_text(b"<html>"),
            Err(ProviderError::Malformed)
        ));
    }
}
