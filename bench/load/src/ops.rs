//! What one request of a load's mix is, and the answer it must get.
//!
//! - `--path P`: `GET P` with a random seeded user's token, expecting 200 (the reads of
//!   auth-service: `/users/me`, `/doctors?limit=20`).
//! - `--op note-post`: `POST /patients/{patient}/notes` as that patient's doctor, with a
//!   fresh ~600-character note, expecting 202.
//! - `--op note-list-patient` / `--op note-list-doctor`: `GET
//!   /patients/{patient}/notes?limit=N` as the patient or as their doctor, expecting 200.
//!
//! The note operations take a random (patient, doctor) pair of the users file each time.

use std::collections::HashMap;

use anyhow::{bail, Context, Result};
use hyper::header::HeaderValue;
use hyper::{Method, Request, StatusCode, Uri};
use serde_json::json;

use crate::clinical;
use crate::http::{bearer, Body, Target};
use crate::seed::UsersFile;

/// A patient and the doctor they chose, with what a request on the patient's notes needs.
pub struct CarePair {
    pub patient_id: String,
    pub patient_token: HeaderValue,
    pub doctor_token: HeaderValue,
    /// `/patients/{id}/notes`
    pub notes_uri: Uri,
    /// `/patients/{id}/notes?limit=N`
    pub list_uri: Uri,
    /// `/patients/{id}/actionable-steps`
    pub steps_uri: Uri,
}

impl CarePair {
    /// Every patient of the file whose doctor is in the file too.
    pub fn all(target: &Target, users: &UsersFile, list_limit: usize) -> Result<Vec<Self>> {
        let doctors: HashMap<&str, &str> = users
            .users
            .iter()
            .filter(|u| u.role == "doctor")
            .map(|u| (u.id.as_str(), u.access_token.as_str()))
            .collect();
        users
            .users
            .iter()
            .filter(|u| u.role == "patient")
            .filter_map(|patient| {
                let doctor_token = doctors.get(patient.doctor_id.as_deref()?)?;
                Some((patient, *doctor_token))
            })
            .map(|(patient, doctor_token)| {
                let notes = format!("/patients/{}/notes", patient.id);
                Ok(Self {
                    patient_id: patient.id.clone(),
                    patient_token: bearer(&patient.access_token)?,
                    doctor_token: bearer(doctor_token)?,
                    list_uri: target.uri(&format!("{notes}?limit={list_limit}"))?,
                    notes_uri: target.uri(&notes)?,
                    steps_uri: target.uri(&format!("/patients/{}/actionable-steps", patient.id))?,
                })
            })
            .collect()
    }
}

/// Who reads a patient's notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Patient,
    Doctor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `GET` of a fixed path with a random user's token.
    Get { path: String, uri: Uri },
    /// A new note, written by the patient's doctor.
    NotePost,
    /// A page of the patient's notes.
    NoteList { reader: Reader, limit: usize },
}

impl Op {
    pub fn get(target: &Target, path: &str) -> Result<Self> {
        Ok(Self::Get {
            path: path.to_owned(),
            uri: target.uri(path)?,
        })
    }

    /// `note-post`, `note-list-patient` or `note-list-doctor`.
    pub fn parse(name: &str, list_limit: usize) -> Result<Self> {
        Ok(match name {
            "note-post" => Self::NotePost,
            "note-list-patient" => Self::NoteList {
                reader: Reader::Patient,
                limit: list_limit,
            },
            "note-list-doctor" => Self::NoteList {
                reader: Reader::Doctor,
                limit: list_limit,
            },
            other => {
                bail!("--op {other:?}: expected note-post, note-list-patient or note-list-doctor")
            }
        })
    }

    pub fn needs_pairs(&self) -> bool {
        !matches!(self, Self::Get { .. })
    }

    /// How the table names it.
    pub fn label(&self) -> String {
        match self {
            Self::Get { path, .. } => path.clone(),
            Self::NotePost => "POST /patients/{id}/notes (doctor)".to_owned(),
            Self::NoteList { reader, limit } => format!(
                "GET /patients/{{id}}/notes?limit={limit} ({})",
                match reader {
                    Reader::Patient => "patient",
                    Reader::Doctor => "doctor",
                }
            ),
        }
    }

    /// The one status that counts as success.
    pub fn expected(&self) -> StatusCode {
        match self {
            Self::NotePost => StatusCode::ACCEPTED,
            Self::Get { .. } | Self::NoteList { .. } => StatusCode::OK,
        }
    }

    /// The request: `pick` draws the user or pair, `sequence` makes a note's text.
    pub fn request(
        &self,
        target: &Target,
        tokens: &[HeaderValue],
        pairs: &[CarePair],
        mut pick: impl FnMut(usize) -> usize,
        sequence: u64,
    ) -> Result<Request<Body>> {
        match self {
            Self::Get { uri, .. } => {
                let token = tokens.get(pick(tokens.len())).context("no user tokens")?;
                target.request(Method::GET, uri.clone(), Some(token), None)
            }
            Self::NotePost => {
                let pair = pairs.get(pick(pairs.len())).context("no care pairs")?;
                target.request(
                    Method::POST,
                    pair.notes_uri.clone(),
                    Some(&pair.doctor_token),
                    Some(&json!({ "text": clinical::note(sequence) })),
                )
            }
            Self::NoteList { reader, .. } => {
                let pair = pairs.get(pick(pairs.len())).context("no care pairs")?;
                let token = match reader {
                    Reader::Patient => &pair.patient_token,
                    Reader::Doctor => &pair.doctor_token,
                };
                target.request(Method::GET, pair.list_uri.clone(), Some(token), None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::User;

    fn user(id: &str, role: &str, doctor_id: Option<&str>) -> User {
        User {
            id: id.to_owned(),
            email: format!("{id}@bench.example"),
            password: "pw".to_owned(),
            role: role.to_owned(),
            access_token: format!("token-{id}"),
            doctor_id: doctor_id.map(str::to_owned),
        }
    }

    #[test]
    fn pairs_join_patients_to_the_doctors_of_the_file() {
        let target = Target::parse("http://127.0.0.1:8080/api/v1").expect("valid");
        let users = UsersFile {
            users: vec![
                user("d1", "doctor", None),
                user("p1", "patient", Some("d1")),
                user("p2", "patient", Some("d9")),
                user("p3", "patient", None),
            ],
        };
        let pairs = CarePair::all(&target, &users, 20).expect("pairs");
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].patient_id, "p1");
        assert_eq!(pairs[0].doctor_token, "Bearer token-d1");
        assert_eq!(
            pairs[0].list_uri.to_string(),
            "/api/v1/patients/p1/notes?limit=20"
        );
    }

    #[test]
    fn ops_expect_their_status_and_build_their_request() {
        let target = Target::parse("http://127.0.0.1:8080/api/v1").expect("valid");
        let users = UsersFile {
            users: vec![
                user("d1", "doctor", None),
                user("p1", "patient", Some("d1")),
            ],
        };
        let pairs = CarePair::all(&target, &users, 5).expect("pairs");
        let post = Op::parse("note-post", 5).expect("op");
        assert_eq!(post.expected(), StatusCode::ACCEPTED);
        let request = post
            .request(&target, &[], &pairs, |_| 0, 3)
            .expect("request");
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri().path(), "/api/v1/patients/p1/notes");
        assert_eq!(request.headers()["authorization"], "Bearer token-d1");

        let list = Op::parse("note-list-patient", 5).expect("op");
        assert_eq!(list.expected(), StatusCode::OK);
        assert_eq!(list.label(), "GET /patients/{id}/notes?limit=5 (patient)");
        let request = list
            .request(&target, &[], &pairs, |_| 0, 0)
            .expect("request");
        assert_eq!(request.headers()["authorization"], "Bearer token-p1");
        assert!(Op::parse("note-delete", 5).is_err());
    }
}
