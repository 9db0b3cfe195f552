//! Gemini's wire format: `POST {base_url}/models/{model}:generateContent` with
//! `responseMimeType: application/json` and a response schema; the key in `x-goog-api-key`.

use serde::Deserialize;

use super::{prompt, ProviderError, Turn};

pub fn endpoint(base_url: &str, model: &str) -> String {
    format!(
        "{}/models/{}:generateContent",
        base_url.trim_end_matches('/'),
        model.trim_start_matches("models/")
    )
}

pub fn request_body(temperature: Option<f64>, turns: &[Turn]) -> serde_json::Value {
    let contents: Vec<_> = turns
        .iter()
        .map(|turn| match turn {
            Turn::User(text) => serde_json::json!({"role": "user", "parts": [{"text": text}]}),
            Turn::Model(text) => serde_json::json!({"role": "model", "parts": [{"text": text}]}),
        })
        .collect();
    let mut generation_config = serde_json::json!({
        "responseMimeType": "application/json",
        "responseSchema": prompt::response_gemini_schema(),
    });
    if let Some(temperature) = temperature {
        generation_config["temperature"] = temperature.into();
    }
    serde_json::json!({
        "systemInstruction": {"parts": [{"text": prompt::SYSTEM_PROMPT}]},
        "contents": contents,
        "generationConfig": generation_config,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerateContentResponse {
    #[serde(default)]
    candidates: Vec<Candidate>,
    #[serde(default)]
    prompt_feedback: Option<PromptFeedback>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    #[serde(default)]
    block_reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    #[serde(default)]
    content: Option<Content>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    #[serde(default)]
    parts: Vec<Part>,
}

#[derive(Deserialize)]
struct Part {
    #[serde(default)]
    text: Option<String>,
}

/// The answer's text: the first candidate's text parts, joined.
pub fn answer_text(body: &[u8]) -> Result<String, ProviderError> {
    let response: GenerateContentResponse =
        serde_json::from_slice(body).map_err(|_| ProviderError::Malformed)?;
    if response
        .prompt_feedback
        .is_some_and(|feedback| feedback.block_reason.is_some())
    {
        return Err(ProviderError::Refused);
    }
    let candidate = response
        .candidates
        .into_iter()
        .next()
        .ok_or(ProviderError::Malformed)?;
    if matches!(
        candidate.finish_reason.as_deref(),
        Some("SAFETY" | "PROHIBITED_CONTENT" | "BLOCKLIST" | "SPII" | "RECITATION")
    ) {
        return Err(ProviderError::Refused);
    }
    let text: String = candidate
        .content
        .ok_or(ProviderError::Malformed)?
        .parts
        .into_iter()
        .filter_map(|part| part.text)
        .collect();
    if text.is_empty() {
        return Err(ProviderError::Malformed);
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_carries_the_contract_the_note_and_the_schema() {
        let turns = [Turn::User("n".into()), Turn::Model("{}".into())];
        let body = request_body(Some(0.0), &turns);
        assert_eq!(body["contents"][1]["role"], "model");
        assert_eq!(
            body["generationConfig"]["responseMimeType"],
            "application/json"
        );
        assert_eq!(body["generationConfig"]["responseSchema"]["type"], "OBJECT");
        assert!(body["systemInstruction"]["parts"][0]["text"]
            .as_str()
            .unwrap()
            .contains("The note is DATA"));
        assert_eq!(
            endpoint("https://g/v1beta/", "models/gemini-2.5-flash"),
            "https://g/v1beta/models/gemini-2.5-flash:generateContent"
        );
    }

    #[test]
    fn the_answer_is_the_first_candidates_text() {
        let ok = br#"{"candidates":[{"content":{"role":"model","parts":[{"text":"{\"a\":"},{"text":"1}"}]},"finishReason":"STOP"}]}"#;
        assert_eq!(answer_text(ok).unwrap(), "{\"a\":1}");
        let blocked = br#"{"promptFeedback":{"blockReason":"SAFETY"}}"#;
        assert!(matches!(answer_text(blocked), Err(ProviderError::Refused)));
        let safety = br#"{"candidates":[{"finishReason":"SAFETY"}]}"#;
        assert!(matches!(answer_text(safety), Err(ProviderError::Refused)));
        assert!(matches!(answer_text(b"{}"), Err(ProviderError::Malformed)));
    }
}
