//! The most checklist items, and separately the most plan steps, a note may give: the
//! extractor's output, a model's answer and a `steps.extracted` event alike.
//!
//! The functions here check a list of any step type on its way in, for
//! `#[serde(deserialize_with = "hospital_steps::max_steps::checklist")]` (or `plan`).

use serde::{Deserialize, Deserializer};

use crate::InvalidStep;

/// At most this many checklist items, and this many plan steps: no honest note has more,
/// and it bounds what a hostile one costs (the JSON Schemas say the same).
pub const MAX_STEPS: usize = 200;

/// Refuses a list `list` of `count` steps when that is more than [`MAX_STEPS`].
pub fn check(list: &'static str, count: usize) -> Result<(), InvalidStep> {
    if count > MAX_STEPS {
        return Err(InvalidStep::TooManySteps { list, count });
    }
    Ok(())
}

/// Deserializes a `checklist` of at most [`MAX_STEPS`].
pub fn checklist<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    at_most("checklist", deserializer)
}

/// Deserializes a `plan` of at most [`MAX_STEPS`].
pub fn plan<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    at_most("plan", deserializer)
}

fn at_most<'de, D, T>(list: &'static str, deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let steps = Vec::<T>::deserialize(deserializer)?;
    check(list, steps.len()).map_err(serde::de::Error::custom)?;
    Ok(steps)
}
