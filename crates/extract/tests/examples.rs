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

#[test]
fn prescription_labels_name_the_medicine_whatever_the_unit() {
    for (note, want) in [
        (
            "Amlodipine-benazepril 5-20 mg capsule: 1 cap po qd.",
            "Take amlodipine-benazepril 5-20 mg | 1/day | open",
        ),
        (
            "Latanoprost 0.005% ophthalmic solution: 1 gtt OU qhs.",
            "Use latanoprost 0.005% ophthalmic solution | 1/day | open",
        ),
        // OD before another frequency is the right eye.
        (
            "Brimonidine 0.2% eye drops: 1 gtt OD tid.",
            "Use brimonidine 0.2% eye drops | 3/day | open",
        ),
        (
            "Fluticasone 50 mcg nasal spray: 2 sprays each nostril q am.",
            "Use fluticasone 50 mcg nasal spray | 1/day | open",
        ),
        (
            "Insulin lispro 100 units/mL KwikPen: inject 8 units subcut tid with meals.",
            "Inject insulin lispro 8 units | 3/day | open",
        ),
        (
            "Mupirocin 2% ointment: apply to affected area tid x10d.",
            "Apply mupirocin 2% ointment | 3/day | 10 days",
        ),
        (
            "Cetirizine 1 mg/mL syrup: 5 mL po qd x 2 weeks.",
            "Take cetirizine 5 mL | 1/day | 14 days",
        ),
        (
            "Vitamin D3 50,000 units capsule: 1 cap po q wk x 8 weeks.",
            "Take Vitamin D3 50,000 units | every 168h | 56 days",
        ),
        (
            "Atrovent HFA (ipratropium bromide) 17 mcg inhaler: use 2 inhalations 4 times daily.",
            "Use atrovent HFA (ipratropium bromide) 17 mcg inhaler | 4/day | open",
        ),
    ] {
        assert_eq!(plan(note), [want], "{note}");
    }
}

#[test]
fn run_together_and_spaced_shorthand() {
    for (note, want) in [
        (
            "Valacyclovir 1 g tablet: 1 tab po tidx7 days.",
            "3/day | 7 days",
        ),
        (
            "Terbinafine 250 mg tablet: 1 tab po dailyx6 weeks.",
            "1/day | 42 days",
        ),
        (
            "Linezolid 600 mg tablet: 1 tab po q12hrx10 days.",
            "every 12h | 10 days",
        ),
        ("Tamsulosin 0.4 mg capsule: 1 cap po q hs.", "1/day | open"),
        (
            "Spironolactone 25 mg tablet: 1 tab po q am.",
            "1/day | open",
        ),
        ("Metoprolol 25 mg tablet: 1 tab po q.d.", "1/day | open"),
        (
            "Methotrexate 2.5 mg tablet: 4 tabs po qweek.",
            "every 168h | open",
        ),
        (
            "Alendronate 70 mg tablet: 1 tab po q wk.",
            "every 168h | open",
        ),
        (
            "Amoxicillin 250 mg/5 mL suspension: 5 mL po 4x/dayx10 days.",
            "4/day | 10 days",
        ),
        // A range of hours is its longer interval.
        (
            "Ondansetron 4 mg tablet: 1 tab po q 6-8 hours.",
            "every 8h | open",
        ),
        ("Metformin 500 mg tablet: 1 tab po tiw.", "every 56h | open"),
        (
            "Methotrexate 2.5 mg tablet: 3 tabs po qow.",
            "every 336h | open",
        ),
        (
            "Testosterone cypionate 200 mg/mL vial: inject 0.5 mL IM q2wk.",
            "every 336h | open",
        ),
        (
            "Insulin lispro 100 units/mL: 5 units sc qac.",
            "3/day | open",
        ),
        (
            "Insulin lispro 100 units/mL: 5 units sc ac & hs.",
            "4/day | open",
        ),
    ] {
        let got = plan(note);
        assert_eq!(got.len(), 1, "{note}: {got:?}");
        assert!(got[0].ends_with(want), "{note}: {got:?}");
    }
    // As needed wins over a frequency, a range or a run-together "prn".
    for note in [
        "Tramadol 50 mg tablet: 1 tab po q4-6h prn pain, max 8 tabs/day.",
        "Ibuprofen 400 mg tablet: 1 tab po q6hprnpain.",
        "Cyclobenzaprine 10 mg tablet: 1 tab po qhs prnas needed for spasm.",
    ] {
        assert_eq!(plan(note), Vec::<String>::new(), "{note}");
    }
}

#[test]
fn trailing_clauses_change_nothing() {
    for note in [
        "Glipizide 5 mg tablet: 1 tab po bid -- max 2 tabs/day.",
        "Glipizide 5 mg tablet: 1 tab po bid maximum daily dose 10 mg.",
        "Glipizide 5 mg tablet: take 1 tablet by mouth twice daily as directed.",
        "Glipizide 5 mg tablet: 1 tab po bid with food, swallow whole.",
        "Glipizide 5 mg tablet: 1 tab po bid, patient will buy otc if not covered.",
    ] {
        let got = plan(note);
        assert_eq!(got.len(), 1, "{note}: {got:?}");
        assert!(got[0].ends_with("| 2/day | open"), "{note}: {got:?}");
    }
    assert_eq!(
        plan("Hydrocortisone 1% cream: apply bid for no longer than 10 days at a time."),
        ["Apply hydrocortisone 1% cream | 2/day | open"]
    );
}

#[test]
fn tapers_give_one_step_per_phase() {
    // Without "then", without a frequency word in each phase: once a day.
    assert_eq!(
        plan("Prednisone 5 mg tablet: 6 tabs x2d, 4 tabs x2d, 2 tabs x2d, 1 tab x2d."),
        [
            "Take prednisone 5 mg, 6 tabs | 1/day | 2 days",
            "Take prednisone 5 mg, 4 tabs | 1/day | 2 days",
            "Take prednisone 5 mg, 2 tabs | 1/day | 2 days",
            "Take prednisone 5 mg, 1 tab | 1/day | 2 days",
        ]
    );
    // Each phase keeps the frequency before it.
    assert_eq!(
        plan("Clonidine 0.1 mg tablet: 1 po bid x 3 days 1/2 po bid x 3 days 1/2 po qd x 3 days."),
        [
            "Take clonidine 0.1 mg, 1 | 2/day | 3 days",
            "Take clonidine 0.1 mg, 1/2 | 2/day | 3 days",
            "Take clonidine 0.1 mg, 1/2 | 1/day | 3 days",
        ]
    );
    // In mg, with "then"; a loading day; a titration.
    assert_eq!(
        plan("Prednisolone 40 mg od x 5/7, then 30 mg x 3/7, then 20 mg x 3/7, then stop."),
        [
            "Take prednisolone 40 mg | 1/day | 5 days",
            "Take prednisolone 30 mg | 1/day | 3 days",
            "Take prednisolone 20 mg | 1/day | 3 days",
        ]
    );
    assert_eq!(
        plan("Azithromycin 250 mg tablet: take 2 tablets on day 1 and 1 tablet on days 2-5."),
        [
            "Take azithromycin 250 mg, 2 tablets | 1/day | 1 days",
            "Take azithromycin 250 mg, 1 tablet | 1/day | 4 days",
        ]
    );
    assert_eq!(
        plan("I have started methotrexate 10 mg once weekly, increasing to 15 mg once weekly after 4 weeks."),
        [
            "Take methotrexate 10 mg | every 168h | 28 days",
            "Take methotrexate 15 mg | every 168h | open",
        ]
    );
}

#[test]
fn durations_that_are_approximate_or_chosen() {
    assert_eq!(
        plan("Omeprazole 20 mg once daily for about 8 weeks."),
        ["Take omeprazole 20 mg | 1/day | 56 days"]
    );
    assert_eq!(
        plan("Nitrofurantoin 100 mg twice daily, 5-7 days; let's do 7."),
        ["Take nitrofurantoin 100 mg | 2/day | 7 days"]
    );
    assert_eq!(
        plan("Tamoxifen 20 mg once daily for 5 years."),
        ["Take tamoxifen 20 mg | 1/day | 1825 days"]
    );
    // A single dose is a course of one.
    assert_eq!(
        plan("Fluconazole 150 mg tablet: take 1 tablet by mouth once."),
        ["Take fluconazole 150 mg | 1/day | 1 doses"]
    );
}

#[test]
fn combination_products_and_brands_are_one_medicine() {
    for (note, want) in [
        (
            "Dalteparin (Fragmin) 5,000 units once daily for 28 days.",
            "Inject dalteparin (Fragmin) 5,000 units | 1/day | 28 days",
        ),
        (
            "Duac gel (clindamycin 1%/benzoyl peroxide 5%) once daily at night for 12 weeks.",
            "Apply duac gel (clindamycin 1%/benzoyl peroxide 5%) | 1/day | 84 days",
        ),
        (
            "Paxlovid (nirmatrelvir 150 mg + ritonavir 100 mg) twice daily for 5 days.",
            "Take paxlovid (nirmatrelvir 150 mg + ritonavir 100 mg) | 2/day | 5 days",
        ),
        (
            "Insulin degludec (Tresiba) 30 units at 22:00.",
            "Inject insulin degludec (Tresiba) 30 units | at 22:00 | open",
        ),
    ] {
        assert_eq!(plan(note), [want], "{note}");
    }
}

#[test]
fn narrative_with_clock_times_and_the_teams_tasks_give_nothing() {
    for note in [
        "Ward round 09:15, Dr Singh.",
        "Rolled his ankle playing football on Saturday at 19:30.",
        "Ondansetron 4 mg IV given at 16:10.",
        "Night staff to do 4-hourly obs.",
        "DN to redo the dressing on Monday and Thursday.",
        "The diabetes specialist nurse will phone on Thursday.",
        "We have arranged an MRI of the lumbar spine.",
        "Walks 30 minutes three times a week.",
        "Using salbutamol 6-8 times a day.",
        "On metformin 1 g bd.",
        "Still smoking 10/day.",
        "B: COPD, T2DM on metformin 500 mg bd, lives with wife.",
        "Amoxicillin 500 mg tds for 5 days in March 2024 for a chest infection.",
        "Flucloxacillin 500 mg qds x 7 days (2023), good response.",
        "Fluid restriction 1.5 litres a day.",
        "Limit salt to less than 2,000 mg a day.",
        "Repeat U&E in 1 week (GP please arrange).",
        "Next appointment: 03/14 at 10:30 AM with Dr. Lee.",
        "Phone call with patient's wife 09:40.",
        "Today we agreed to move to four doses a day.",
    ] {
        let steps = read(note);
        assert!(
            steps.plan.is_empty() && steps.checklist.is_empty(),
            "{note}: {steps:?}"
        );
    }
    // A heading whose schedule the line retells is one step.
    assert_eq!(
        plan("Daily weights: she should weigh herself every morning."),
        ["Weigh herself | 1/day | open"]
    );
    // A plan line copied forward is one step.
    assert_eq!(
        plan("P: Continue amlodipine 5 mg once daily.\nP: Continue amlodipine 5 mg once daily."),
        ["Take amlodipine 5 mg | 1/day | open"]
    );
}

#[test]
fn one_off_tasks_with_less_common_verbs() {
    for (note, want) in [
        (
            "Photograph the mole today with a ruler beside it.",
            "photograph",
        ),
        (
            "Bring all your inhalers to the nurse review next week.",
            "inhalers",
        ),
        (
            "Complete the PHQ-9 questionnaire online before our next call.",
            "questionnaire",
        ),
        ("Return your old inhalers to the pharmacy.", "inhalers"),
        ("Ask the pharmacist for a blister pack.", "blister"),
        (
            "Please \u{201c}drop off\u{201d} a urine sample at reception.",
            "sample",
        ),
        (
            "Have the stitches removed at your GP surgery in 10 days.",
            "stitches",
        ),
        (
            "I have asked her to book a fasting lipid profile with the practice nurse.",
            "lipid",
        ),
        (
            "He has agreed to attend the smoking cessation clinic.",
            "smoking",
        ),
        ("Remove the outer dressing on day 2.", "dressing"),
    ] {
        let got = checklist(note);
        assert_eq!(got.len(), 1, "{note}: {got:?}");
        assert!(got[0].to_lowercase().contains(want), "{note}: {got:?}");
    }
    // One task told in two verbs is one item; the clinician's own call is none.
    assert_eq!(
        checklist("Complete the food diary and return it to the dietitian."),
        ["Complete the food diary"]
    );
    assert!(checklist("I will ring back after the visit.").is_empty());
}

#[test]
fn times_of_day_as_words_count_doses() {
    for (note, want) in [
        ("Metformin 500 mg: 1 tab with breakfast and evening meal.", "2/day"),
        ("Take one tablet of sevelamer 800 mg before meals and at bedtime.", "4/day"),
        (
            "Carbidopa-levodopa 25/100 mg tablet: take one tablet in the morning, at noon and at bedtime.",
            "3/day",
        ),
        ("Insulin aspart 6 units before breakfast, lunch and dinner.", "3/day"),
        ("Apply emollient lip balm morning and evening.", "2/day"),
    ] {
        let got = plan(note);
        assert_eq!(got.len(), 1, "{note}: {got:?}");
        assert!(got[0].contains(want), "{note}: {got:?}");
    }
}

#[test]
fn letters_tell_the_patients_plan_in_the_third_person() {
    for (note, want) in [
        (
            "She has been switched to rivaroxaban 15 mg twice daily for 21 days, then 20 mg once daily.",
            vec![
                "Take rivaroxaban 15 mg | 2/day | 21 days",
                "Take rivaroxaban 20 mg | 1/day | open",
            ],
        ),
        (
            "She is also starting prednisolone 40 mg once daily for one week.",
            vec!["Take prednisolone 40 mg | 1/day | 7 days"],
        ),
        (
            "I increased his metformin to 1000 mg twice daily.",
            vec!["Take metformin 1000 mg | 2/day | open"],
        ),
        (
            "We agreed to reduce his amlodipine from 10 mg to 5 mg once daily.",
            vec!["Take amlodipine 5 mg | 1/day | open"],
        ),
        (
            "His hydrocortisone has been changed to 10 mg at 07:00 and 5 mg at 16:00.",
            vec!["Take hydrocortisone 10 mg | at 07:00,16:00 | open"],
        ),
        (
            "She will resume her lisinopril 10 mg daily, which was held on admission.",
            vec!["Take lisinopril 10 mg | 1/day | open"],
        ),
        // The request to the GP after "and would be grateful" is the GP's.
        (
            "I have increased her levothyroxine to 125 micrograms daily and would be grateful if you could check her TFTs in 6 weeks.",
            vec!["Take levothyroxine 125 micrograms | 1/day | open"],
        ),
        (
            "She continues on amlodipine 10 mg daily and her blood pressure is well controlled.",
            vec!["Take amlodipine 10 mg | 1/day | open"],
        ),
        // What the patient is on, or what has not worked, is background.
        ("Home readings 150s/90s despite lisinopril 20 mg daily.", vec![]),
        (
            "He will keep a rescue pack of prednisolone 30 mg daily for 5 days, to start only if his sputum turns green.",
            vec![],
        ),
    ] {
        assert_eq!(plan(note), want, "{note}");
    }
}

#[test]
fn after_visit_summaries_and_letters_ask_for_one_off_tasks() {
    for (note, want) in [
        (
            "Please could he bring all his medicine boxes to the next clinic.",
            "medicine boxes",
        ),
        (
            "Because her hands shake, she will buy an eye drop dispenser aid.",
            "dispenser",
        ),
        (
            "[ ] Pick up the amoxicillin at the pharmacy today.",
            "amoxicillin",
        ),
        (
            "Go to the lab for fasting bloodwork next week.",
            "bloodwork",
        ),
        ("See your dentist within the next month.", "dentist"),
        (
            "Stop by the lab on your way out to have your blood drawn.",
            "lab",
        ),
        (
            "Take my old inhalers back to the pharmacy for recycling.",
            "inhalers",
        ),
        ("She must inform the DVLA this week.", "dvla"),
        (
            "Wash all bedding and towels on a hot wash today.",
            "bedding",
        ),
        ("She will self-refer to Talking Therapies online.", "refer"),
    ] {
        let got = checklist(note);
        assert_eq!(got.len(), 1, "{note}: {got:?}");
        assert!(got[0].to_lowercase().contains(want), "{note}: {got:?}");
    }
    // A follow-up and the call that books it are one task; so is a task and how to do it.
    assert_eq!(
        checklist("Follow up with Orthopedics in 1 week. Call 555-0134 to schedule."),
        ["Follow up with Orthopedics in 1 week"]
    );
    assert_eq!(
        checklist("Schedule your screening mammogram - call Imaging at 555-0199."),
        ["Schedule your screening mammogram"]
    );
    // The team's tasks, and emergencies, are not the patient's checklist.
    for note in [
        "In an emergency: call 999.",
        "He is to have a CT scan, which we will request.",
        "Phone call with patient's wife 09:40.",
        "Return precautions reviewed.",
    ] {
        let steps = read(note);
        assert!(
            steps.plan.is_empty() && steps.checklist.is_empty(),
            "{note}: {steps:?}"
        );
    }
}

#[test]
fn a_list_takes_the_course_its_heading_names() {
    assert_eq!(
        plan(
            "Take ALL of these for 14 days:\n- omeprazole 20 mg twice a day\n- tetracycline 500 mg four times a day\nStop omeprazole before the breath test."
        ),
        [
            "Take omeprazole 20 mg | 2/day | 14 days",
            "Take tetracycline 500 mg | 4/day | 14 days",
        ]
    );
}

#[test]
fn headings_and_afterthoughts_shape_the_steps_around_them() {
    // A time of day as a heading schedules the directions after it.
    assert_eq!(
        plan("Morning: wash with benzoyl peroxide 5% wash, then apply clindamycin 1% gel to the face."),
        [
            "Use benzoyl peroxide 5% wash | 1/day | open",
            "Apply clindamycin 1% gel | 1/day | open",
        ]
    );
    // The medicine written after its directions.
    assert_eq!(
        plan("1 cap po tidx10 days - clindamycin 300mg."),
        ["Take clindamycin 300mg | 3/day | 10 days"]
    );
    // A prescriber's pick, told in a sentence of its own.
    assert_eq!(
        plan("Amoxicillin 400 mg/5 mL, 9.5 mL by mouth twice daily. 7-10 days is reasonable; Dr. Patel wants 10."),
        ["Take amoxicillin 400 mg/5 mL | 2/day | 10 days"]
    );
    // "it" names what the sentence named before.
    assert_eq!(
        plan("Son has been taught the dressing and is to change it every 3 days."),
        ["Change the dressing | every 72h | open"]
    );
    // A relative's task told with -ing; the nurses' observations are theirs.
    assert_eq!(
        checklist("Daughter bringing her hearing aid tonight."),
        ["Bringing her hearing aid tonight"]
    );
    assert!(
        read("Neuro obs hourly for 4 h, then 4-hourly until midnight.")
            .plan
            .is_empty()
    );
}
