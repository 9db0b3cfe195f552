//! Made-up notes, one per thing the extractor must understand (the list), read
//! end to end through `hospital_extract::extract`.

// A panic is the test failing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hospital_extract::{Duration, Schedule, Steps};

fn read(note: &str) -> Steps {
    hospital_extract::extract(note)
}

/// Plan steps as "title | schedule | duration" for compact assertions.
fn plan(note: &str) -> Vec<String> {
    read(note)
        .plan
        .iter()
        .map(|p| {
            let s = match &p.schedule {
                Schedule::FixedTimes { times } => {
                    format!(
                        "at {}",
                        times
                            .as_slice()
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(",")
                    )
                }
                Schedule::Interval { every_hours } => format!("every {}h", every_hours.get()),
                Schedule::TimesPerDay { times_per_day } => format!("{}/day", times_per_day.get()),
            };
            let d = match p.duration {
                Some(Duration::Days(n)) => format!("{n} days"),
                Some(Duration::Occurrences(n)) => format!("{n} doses"),
                None => "open".to_string(),
            };
            format!("{} | {s} | {d}", p.title)
        })
        .collect()
}

fn checklist(note: &str) -> Vec<String> {
    read(note)
        .checklist
        .into_iter()
        .map(|c| c.title.into_string())
        .collect()
}

#[test]
fn titles_name_the_medicine_and_dose_and_sources_are_verbatim() {
    let steps = read("Strep throat. Buy amoxicillin 500 mg capsules today. Take one capsule three times a day for 7 days.");
    assert_eq!(
        steps.checklist[0].title,
        "Buy amoxicillin 500 mg capsules today"
    );
    assert_eq!(
        steps.checklist[0].source,
        "Buy amoxicillin 500 mg capsules today."
    );
    assert_eq!(
        plan("Buy amoxicillin 500 mg capsules. Take one capsule three times a day for 7 days."),
        ["Take amoxicillin 500 mg | 3/day | 7 days"]
    );
    assert_eq!(
        steps.plan[0].source,
        "Take one capsule three times a day for 7 days."
    );
}

#[test]
fn sentences_respect_abbreviations_decimals_and_units() {
    assert_eq!(
        plan("Seen by Dr. Shah, e.g. for review. Give 1.5 ml b.i.d. for 5 days. Cetirizine 10 mg. Take it once daily."),
        ["Give 1.5 ml | 2/day | 5 days", "Take cetirizine 10 mg | 1/day | open"]
    );
}

#[test]
fn semicolons_and_then_sequences_split_steps() {
    assert_eq!(
        plan("Chloramphenicol eye drops, one drop every 2 hours for 2 days, then four times daily for 5 days."),
        ["Use chloramphenicol eye drops | every 2h | 2 days", "Use chloramphenicol eye drops | 4/day | 5 days"]
    );
    assert_eq!(
        plan("Prednisolone 40 mg od for 5 days then 20 mg od for 5 days; buy a pill box."),
        [
            "Take prednisolone 40 mg | 1/day | 5 days",
            "Take prednisolone 20 mg | 1/day | 5 days"
        ]
    );
}

#[test]
fn one_schedule_is_shared_by_a_list() {
    assert_eq!(
        plan("Omeprazole, amoxicillin and clarithromycin, all twice daily for 14 days."),
        [
            "Take omeprazole | 2/day | 14 days",
            "Take amoxicillin | 2/day | 14 days",
            "Take clarithromycin | 2/day | 14 days"
        ]
    );
    assert_eq!(
        plan("Omeprazole 20 mg twice daily, amoxicillin 1 g twice daily and clarithromycin 500 mg twice daily, all for 14 days."),
        [
            "Take omeprazole 20 mg | 2/day | 14 days",
            "Take amoxicillin 1 g | 2/day | 14 days",
            "Take clarithromycin 500 mg | 2/day | 14 days"
        ]
    );
}

#[test]
fn frequencies_in_words_digits_and_shorthand() {
    for (text, want) in [
        ("Ramipril 5 mg once a day.", "1/day"),
        ("Ramipril 5 mg twice a day.", "2/day"),
        ("Ramipril 5 mg three times a day.", "3/day"),
        ("Ramipril 5 mg daily.", "1/day"),
        ("Ramipril 5 mg every morning.", "1/day"),
        ("Ramipril 5 mg nightly.", "1/day"),
        ("Ramipril 5 mg od.", "1/day"),
        ("Ramipril 5 mg qd.", "1/day"),
        ("Ramipril 5 mg bd.", "2/day"),
        ("Ramipril 5 mg bid.", "2/day"),
        ("Ramipril 5 mg tds.", "3/day"),
        ("Ramipril 5 mg tid.", "3/day"),
        ("Ramipril 5 mg qds.", "4/day"),
        ("Ramipril 5 mg qid.", "4/day"),
        ("Ramipril 5 mg q4h.", "every 4h"),
        ("Ramipril 5 mg q6h.", "every 6h"),
        ("Ramipril 5 mg q8h.", "every 8h"),
        ("Ramipril 5 mg q12h.", "every 12h"),
        ("Ramipril 5 mg qhs.", "1/day"),
        ("Ramipril 5 mg mane.", "1/day"),
        ("Ramipril 5 mg nocte.", "1/day"),
        ("Ramipril 5 mg every other day.", "every 48h"),
        ("Ramipril 5 mg weekly.", "every 168h"),
        ("Ramipril 5 mg 3x daily.", "3/day"),
    ] {
        assert_eq!(
            plan(text),
            [format!("Take ramipril 5 mg | {want} | open")],
            "{text}"
        );
    }
}

#[test]
fn clock_times_make_fixed_times() {
    assert_eq!(
        plan("Warfarin 5 mg at 6pm daily."),
        ["Take warfarin 5 mg | at 18:00 | open"]
    );
    assert_eq!(
        plan("Insulin 10 units at 8 pm."),
        ["Inject insulin 10 units | at 20:00 | open"]
    );
    assert_eq!(
        plan("Weigh yourself every morning at 08:00."),
        ["Weigh yourself | at 08:00 | open"]
    );
    assert_eq!(
        plan("Check blood sugar at 7:30 and 19:30."),
        ["Check blood sugar | at 07:30,19:30 | open"]
    );
    assert_eq!(
        plan("Aspirin 75 mg at 8am."),
        ["Take aspirin 75 mg | at 08:00 | open"]
    );
    assert_eq!(
        plan("Melatonin 2 mg at 21:00 for 3 weeks."),
        ["Take melatonin 2 mg | at 21:00 | 21 days"]
    );
}

#[test]
fn every_duration_form() {
    for (text, want) in [
        ("Doxycycline 100 mg daily for 7 days.", "7 days"),
        ("Doxycycline 100 mg daily x 5 days.", "5 days"),
        ("Doxycycline 100 mg daily x 7/7.", "7 days"),
        ("Doxycycline 100 mg daily for one week.", "7 days"),
        ("Doxycycline 100 mg daily for a fortnight.", "14 days"),
        ("Doxycycline 100 mg daily for 3 months.", "90 days"),
        ("Doxycycline 100 mg daily for 12 weeks.", "84 days"),
        ("Doxycycline 100 mg daily for 10 doses.", "10 doses"),
        ("Doxycycline 100 mg daily, ongoing.", "open"),
        ("Doxycycline 100 mg daily long term.", "open"),
        ("Doxycycline 100 mg daily, lifelong.", "open"),
        ("Doxycycline 100 mg daily indefinitely.", "open"),
        ("Doxycycline 100 mg daily.", "open"),
    ] {
        assert_eq!(
            plan(text),
            [format!("Take doxycycline 100 mg | 1/day | {want}")],
            "{text}"
        );
    }
    assert_eq!(
        plan("Permethrin 5% cream: apply to the whole body, repeat after 7 days, 2 applications in total."),
        ["Apply permethrin 5% cream | every 168h | 2 doses"]
    );
}

#[test]
fn what_is_not_an_instruction() {
    for note in [
        "Patient was on lisinopril 10 mg daily for 2 years.",
        "Completed the course of amoxicillin 500 mg three times a day.",
        "Previously took sertraline 50 mg daily.",
        "Stop metformin 500 mg twice daily.",
        "Advised not to take ibuprofen three times a day.",
        "If no better in 5 days, start amoxicillin 500 mg tds for 7 days.",
        "Paracetamol 1 g up to four times a day if needed.",
        "Salbutamol 2 puffs PRN.",
        "Ibuprofen 400 mg tds as required.",
        "She said \"I take my tablets twice a day and book my own scans\".",
        "He says she 'takes ramipril 5 mg daily'.",
        "Pain occurs three times a day after meals.",
        "If the wound becomes red, call the surgery.",
    ] {
        let steps = read(note);
        assert!(
            steps.plan.is_empty() && steps.checklist.is_empty(),
            "{note}: {steps:?}"
        );
    }
}

#[test]
fn checklist_actions_carry_their_object() {
    assert_eq!(
        checklist(
            "Buy a heat pack. Pick up the prescription. Book a follow-up visit in 4 weeks. Schedule a chest X-ray. \
             Arrange a repeat full blood count. Get an INR test done on Friday. Get your blood pressure checked. \
             Call the quit line. Phone the surgery for results. Attend the eye clinic. Enrol in pulmonary rehab. \
             Replace the spacer. Mark the date on your calendar."
        ),
        [
            "Buy a heat pack",
            "Pick up the prescription",
            "Book a follow-up visit in 4 weeks",
            "Schedule a chest X-ray",
            "Arrange a repeat full blood count",
            "Get an INR test done on Friday",
            "Get your blood pressure checked",
            "Call the quit line",
            "Phone the surgery for results",
            "Attend the eye clinic",
            "Enrol in pulmonary rehab",
            "Replace the spacer",
            "Mark the date on your calendar"
        ]
    );
    assert_eq!(
        checklist("Sutures out in 10 days — book the appointment."),
        ["Book the appointment (Sutures out in 10 days)"]
    );
}

#[test]
fn actions_other_than_medicines_are_planned_too() {
    assert_eq!(
        plan("Ice the knee for 20 minutes four times a day for 3 days. Clean the wound and change the dressing every 48 hours for 10 days."),
        ["Ice the knee for 20 minutes | 4/day | 3 days", "Change the dressing | every 48h | 10 days"]
    );
    assert_eq!(
        plan("Physiotherapy plan: balance exercises 3 times a day for 4 weeks."),
        ["Balance exercises | 3/day | 28 days"]
    );
}
