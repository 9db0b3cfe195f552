//! The steps a note asks for, in clear: what every extractor returns and what a language
//! model's answer is parsed into.

use serde::{Deserialize, Serialize};

use crate::{max_steps, Duration, InvalidStep, Schedule, Source, Title};

/// A note's one-time tasks and scheduled actions, at most [`MAX_STEPS`](crate::MAX_STEPS)
/// of each: `{"checklist": [...], "plan": [...]}`.
///
/// The lists are open to build; deserializing refuses longer ones, and
/// [`check_counts`](Self::check_counts) says whether built ones are within the bound.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Steps {
    #[serde(deserialize_with = "max_steps::checklist")]
    pub checklist: Vec<ChecklistItem>,
    #[serde(deserialize_with = "max_steps::plan")]
    pub plan: Vec<PlanStep>,
}

impl Steps {
    /// Refuses more than [`MAX_STEPS`](crate::MAX_STEPS) checklist items or plan steps.
    pub fn check_counts(&self) -> Result<(), InvalidStep> {
        max_steps::check("checklist", self.checklist.len())?;
        max_steps::check("plan", self.plan.len())
    }
}

/// A one-time task ("Buy amoxicillin 500 mg capsules"): `{"title", "source"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    pub title: Title,
    /// The note's sentence the task came from, verbatim.
    pub source: Source,
}

/// A repeated action, with when it repeats and for how long:
/// `{"title", "schedule", "duration", "source"}`, `duration` `null` when the note sets no
/// end (the field is required all the same).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanStep {
    pub title: Title,
    pub schedule: Schedule,
    #[serde(deserialize_with = "Option::deserialize")]
    pub duration: Option<Duration>,
    /// The note's sentence the step came from, verbatim.
    pub source: Source,
}
