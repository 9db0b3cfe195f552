//! Doctors' notes for the benchmark: about 600 characters of ordinary clinical prose,
//! a little different each time (condition, findings, drugs, doses, days), so no two
//! requests carry the same body and the sealed texts differ as real ones do.

use std::fmt::Write as _;

const CONDITIONS: [(&str, &str); 6] = [
    ("community-acquired pneumonia", "a productive cough"),
    ("type 2 diabetes", "tiredness and thirst"),
    ("essential hypertension", "morning headaches"),
    ("a urinary tract infection", "burning on passing urine"),
    ("persistent asthma", "night-time wheeze"),
    ("iron-deficiency anaemia", "breathlessness on stairs"),
];
const STARTED: [(&str, u32, &str); 6] = [
    ("amoxicillin", 500, "three times a day"),
    ("metformin", 500, "twice a day with meals"),
    ("ramipril", 5, "once a day in the morning"),
    ("nitrofurantoin", 100, "twice a day"),
    ("prednisolone", 40, "once a day after breakfast"),
    ("ferrous sulfate", 200, "twice a day"),
];
const CONTINUED: [(&str, u32); 5] = [
    ("atorvastatin", 20),
    ("omeprazole", 20),
    ("levothyroxine", 50),
    ("amlodipine", 5),
    ("sertraline", 50),
];
const TESTS: [&str; 4] = [
    "a fasting blood test (full blood count, HbA1c, lipids)",
    "a chest X-ray",
    "urea and electrolytes with a urine culture",
    "a repeat haemoglobin and ferritin",
];

/// SplitMix64: a different, well-spread stream of choices for every sequence number.
struct Choices(u64);

impl Choices {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    fn within(&mut self, low: u32, high: u32) -> u32 {
        low + (self.next() % u64::from(high - low + 1)) as u32
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Note number `sequence`: the same number always gives the same text.
pub fn note(sequence: u64) -> String {
    let mut c = Choices(sequence);
    let (condition, symptom) = c.pick(&CONDITIONS);
    let (drug, dose, how_often) = c.pick(&STARTED);
    let (other_drug, other_dose) = c.pick(&CONTINUED);
    let test = c.pick(&TESTS);
    let mut text = String::with_capacity(700);
    let _ = write!(
        text,
        "Seen today in clinic for follow-up of {condition}. Reports {symptom} for the past {} \
         days; no fever, chest pain or shortness of breath at rest. BP {}/{} mmHg, pulse {} \
         bpm, temperature {}.{} C, oxygen saturation {}% on air. Chest clear, abdomen soft. \
         Start {drug} {dose} mg {how_often} for {} days. Continue {other_drug} {other_dose} mg \
         once daily. Book {test} within {} weeks. Check blood pressure at home twice a day and \
         keep a diary. Review in clinic in {} weeks, sooner if symptoms worsen. Side effects discussed; the patient understands and agrees with the \
         plan.",
        c.within(2, 14),
        c.within(110, 165),
        c.within(65, 100),
        c.within(58, 104),
        c.within(36, 37),
        c.within(0, 9),
        c.within(94, 99),
        c.within(5, 14),
        c.within(2, 4),
        c.within(2, 6),
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_about_600_characters_and_differ() {
        let notes: Vec<String> = (0..500).map(note).collect();
        for text in &notes {
            let chars = text.chars().count();
            assert!((550..=650).contains(&chars), "{chars}: {text}");
        }
        let mut distinct = notes.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 490, "{} distinct of 500", distinct.len());
        assert_eq!(note(7), note(7));
    }
}
