//! Signs the benchmark's users up: doctors of a few specializations first, then
//! patients, each of whom chooses a doctor (so `/users/me` of a patient does the
//! full work: the user, the current assignment and the doctor).

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::JoinSet;

use crate::args::Args;
use crate::http::{bearer, Conn, Target};

const SPECIALIZATIONS: [&str; 8] = [
    "Cardiology",
    "Dermatology",
    "Neurology",
    "Pediatrics",
    "General practice",
    "Oncology",
    "Psychiatry",
    "Orthopedics",
];
const TIME_ZONES: [&str; 4] = ["UTC", "Europe/London", "America/New_York", "Asia/Tokyo"];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub password: String,
    pub role: String,
    pub access_token: String,
    /// The doctor a patient chose (`None` for doctors, and for patients without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doctor_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct UsersFile {
    pub users: Vec<User>,
}

impl UsersFile {
    pub fn read(path: &str) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        let file: Self = serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
        if file.users.is_empty() {
            bail!("{path} has no users");
        }
        Ok(file)
    }
}

struct Plan {
    target: Target,
    tag: String,
    password: String,
}

pub async fn run(args: &Args) -> Result<()> {
    let target = Target::parse(args.required("base")?)?;
    let out = args.required("out")?;
    let patients: usize = args.number("patients", 200, 0..=5_000)?;
    let doctors: usize = args.number("doctors", 50, 0..=1_000)?;
    let specializations: usize = args.number("specializations", 5, 1..=SPECIALIZATIONS.len())?;
    let concurrency: usize = args.number("concurrency", 16, 1..=64)?;
    let tag = args.get("tag").unwrap_or("bench").to_owned();
    if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        bail!("--tag must be letters, digits and dashes");
    }
    let plan = Arc::new(Plan {
        target,
        password: format!("{tag}-password"),
        tag,
    });

    let started = Instant::now();
    let doctor_jobs: Vec<Job> = (0..doctors)
        .map(|i| Job::Doctor {
            index: i,
            specialization: SPECIALIZATIONS[i % specializations],
        })
        .collect();
    let mut users = run_jobs(&plan, doctor_jobs, concurrency).await?;
    let doctor_ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let patient_jobs: Vec<Job> = (0..patients)
        .map(|i| Job::Patient {
            index: i,
            doctor_id: (!doctor_ids.is_empty()).then(|| doctor_ids[i % doctor_ids.len()].clone()),
        })
        .collect();
    users.extend(run_jobs(&plan, patient_jobs, concurrency).await?);

    let file = UsersFile { users };
    std::fs::write(out, serde_json::to_vec(&file)?).with_context(|| format!("writing {out}"))?;
    println!(
        "seed: {} doctors and {} patients signed up through {} in {:.1} s",
        doctors,
        patients,
        plan.target.base,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[derive(Clone)]
enum Job {
    Doctor {
        index: usize,
        specialization: &'static str,
    },
    Patient {
        index: usize,
        doctor_id: Option<String>,
    },
}

/// Runs the jobs on `concurrency` connections; the users come back in job order.
async fn run_jobs(plan: &Arc<Plan>, jobs: Vec<Job>, concurrency: usize) -> Result<Vec<User>> {
    let jobs = Arc::new(jobs);
    let workers = concurrency.min(jobs.len());
    let mut set = JoinSet::new();
    for worker in 0..workers {
        let plan = Arc::clone(plan);
        let jobs = Arc::clone(&jobs);
        set.spawn(async move {
            let mut conn = Conn::open(&plan.target).await?;
            let mut done = Vec::new();
            for index in (worker..jobs.len()).step_by(workers) {
                let user = do_job(&plan, &mut conn, &jobs[index]).await?;
                done.push((index, user));
            }
            anyhow::Ok(done)
        });
    }
    let mut all = Vec::with_capacity(jobs.len());
    while let Some(result) = set.join_next().await {
        all.extend(result.context("a sign-up task failed")??);
    }
    all.sort_by_key(|(index, _)| *index);
    Ok(all.into_iter().map(|(_, user)| user).collect())
}

async fn do_job(plan: &Plan, conn: &mut Conn, job: &Job) -> Result<User> {
    let (email, body, doctor_id) = match job {
        Job::Doctor {
            index,
            specialization,
        } => {
            let email = format!("{}-doctor-{index}@bench.example", plan.tag);
            let body = json!({
                "name": format!("Dr Bench {index}"),
                "email": email,
                "password": plan.password,
                "role": "doctor",
                "specialization": specialization,
                "timezone": TIME_ZONES[index % TIME_ZONES.len()],
            });
            (email, body, None)
        }
        Job::Patient { index, doctor_id } => {
            let email = format!("{}-patient-{index}@bench.example", plan.tag);
            let body = json!({
                "name": format!("Patient Bench {index}"),
                "email": email,
                "password": plan.password,
                "role": "patient",
                "timezone": TIME_ZONES[index % TIME_ZONES.len()],
            });
            (email, body, doctor_id.as_deref())
        }
    };
    let request = plan.target.request(
        Method::POST,
        plan.target.uri("/auth/signup")?,
        None,
        Some(&body),
    )?;
    let (status, answer) = conn.send(request).await?;
    if status != StatusCode::CREATED {
        bail!(
            "signing {email} up answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    let session: serde_json::Value = serde_json::from_slice(&answer)?;
    let id = session["user"]["id"]
        .as_str()
        .context("the sign-up answer has no user.id")?
        .to_owned();
    let access_token = session["access_token"]
        .as_str()
        .context("the sign-up answer has no access_token")?
        .to_owned();
    let role = body["role"].as_str().unwrap_or_default().to_owned();

    if let Some(doctor_id) = doctor_id {
        let request = plan.target.request(
            Method::PUT,
            plan.target.uri("/patients/me/doctor")?,
            Some(&bearer(&access_token)?),
            Some(&json!({ "doctor_id": doctor_id })),
        )?;
        let (status, answer) = conn.send(request).await?;
        if status != StatusCode::OK {
            bail!(
                "{email} choosing doctor {doctor_id} answered {status}: {}",
                String::from_utf8_lossy(&answer)
            );
        }
    }
    Ok(User {
        id,
        email,
        password: plan.password.clone(),
        role,
        access_token,
        doctor_id: doctor_id.map(str::to_owned),
    })
}
