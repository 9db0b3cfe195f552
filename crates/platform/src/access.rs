//! Placeholder of the access authority client (the `access` branch brings the real one).

use uuid::Uuid;

pub struct AccessAuthority {
    base_url: String,
    client: reqwest::Client,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientAccess {
    pub patient_id: Uuid,
    pub doctor_id: Option<Uuid>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("forbidden")]
    Forbidden,
    #[error("no such patient")]
    PatientNotFound,
    #[error("unauthorized")]
    Unauthorized,
    #[error("unavailable: {0}")]
    Unavailable(String),
}

#[derive(serde::Deserialize)]
struct Answer {
    patient_id: Uuid,
    doctor_id: Option<Uuid>,
}

impl AccessAuthority {
    pub fn new(base_url: impl Into<String>, client: reqwest::Client) -> Self {
        Self {
            base_url: base_url.into(),
            client,
        }
    }

    pub async fn confirm(
        &self,
        bearer_token: &str,
        patient_id: Uuid,
    ) -> Result<PatientAccess, AccessError> {
        let url = format!(
            "{}/internal/v1/patients/{patient_id}/access",
            self.base_url.trim_end_matches('/')
        );
        let response = self
            .client
            .get(url)
            .bearer_auth(bearer_token)
            .send()
            .await
            .map_err(|e| AccessError::Unavailable(e.to_string()))?;
        match response.status().as_u16() {
            200 => {
                let answer: Answer = response
                    .json()
                    .await
                    .map_err(|e| AccessError::Unavailable(e.to_string()))?;
                Ok(PatientAccess {
                    patient_id: answer.patient_id,
                    doctor_id: answer.doctor_id,
                })
            }
            403 => Err(AccessError::Forbidden),
            404 => Err(AccessError::PatientNotFound),
            401 => Err(AccessError::Unauthorized),
            other => Err(AccessError::Unavailable(format!("status {other}"))),
        }
    }
}

/// A client for service-to-service calls: short timeouts, connections kept alive.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_millis(500))
        .timeout(std::time::Duration::from_secs(2))
        .build()
}
