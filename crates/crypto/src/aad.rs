//! The record binding authenticated (not encrypted) with every envelope.

/// The labelled fields a ciphertext is bound to, in order.
///
/// Their encoding is canonical and unambiguous: a domain tag, the number of fields,
/// then each label and value prefixed by its length (8 bytes, big-endian), so no two
/// different bindings give the same bytes (`("a", "bc")` differs from `("ab", "c")`).
/// Labels and order are part of the binding: open with exactly what was sealed with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AssociatedData {
    fields: Vec<(String, Vec<u8>)>,
}

const DOMAIN: &[u8] = b"hospital-crypto/aad/v1";

impl AssociatedData {
    /// The usual binding of clinical content: the record's id, its patient and its author.
    pub fn record(
        record_id: impl ToString,
        patient_id: impl ToString,
        author_id: impl ToString,
    ) -> Self {
        Self::new()
            .with("record_id", record_id.to_string())
            .with("patient_id", patient_id.to_string())
            .with("author_id", author_id.to_string())
    }

    /// An empty binding, to extend with [`with`](Self::with).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a labelled field (for example the kind of content, `"kind" = "step_title"`).
    #[must_use]
    pub fn with(mut self, label: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.fields.push((label.into(), value.as_ref().to_vec()));
        self
    }

    /// The fields, in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields.iter().map(|(l, v)| (l.as_str(), v.as_slice()))
    }

    /// The canonical encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            DOMAIN.len()
                + 8
                + self
                    .fields
                    .iter()
                    .map(|(l, v)| 16 + l.len() + v.len())
                    .sum::<usize>(),
        );
        put(&mut out, DOMAIN);
        out.extend_from_slice(&(self.fields.len() as u64).to_be_bytes());
        for (label, value) in &self.fields {
            put(&mut out, label.as_bytes());
            put(&mut out, value);
        }
        out
    }
}

/// Appends `bytes` prefixed by their length.
pub(crate) fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splitting_a_value_differently_changes_the_encoding() {
        let a = AssociatedData::new().with("a", "bc");
        let b = AssociatedData::new().with("ab", "c");
        let c = AssociatedData::new().with("a", "b").with("", "c");
        assert_ne!(a.to_bytes(), b.to_bytes());
        assert_ne!(a.to_bytes(), c.to_bytes());
        assert_ne!(b.to_bytes(), c.to_bytes());
    }

    #[test]
    fn order_is_part_of_the_binding() {
        let a = AssociatedData::record("1", "2", "3");
        let b = AssociatedData::record("1", "3", "2");
        assert_ne!(a.to_bytes(), b.to_bytes());
    }

    fn fields() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
        proptest::collection::vec(
            (".{0,4}", proptest::collection::vec(any::<u8>(), 0..4)),
            0..4,
        )
    }

    fn build(fields: &[(String, Vec<u8>)]) -> AssociatedData {
        fields
            .iter()
            .fold(AssociatedData::new(), |aad, (l, v)| aad.with(l.clone(), v))
    }

    proptest! {
        #[test]
        fn different_bindings_never_encode_alike(a in fields(), b in fields()) {
            prop_assume!(a != b);
            prop_assert_ne!(build(&a).to_bytes(), build(&b).to_bytes());
        }
    }
}
