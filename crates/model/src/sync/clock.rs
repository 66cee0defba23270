//! Per-field versions of a twin: how two nodes that edit one item concurrently agree on every
//! field without a shared clock, whatever order their messages arrive in, and know when an
//! edit overwrote one the other side had not seen (a conflict).
//!
//! Each side keeps, for every replica field of a twin, a [`FieldClock`]:
//! - `version`, a Lamport stamp of the value it holds: `counter * 2 + side`, where `side` is 1
//!   for the side that wins ties (the connection's initiator) and 0 for the other. Stamps of the
//!   two sides never collide, so "the greater stamp wins" is a total order both sides evaluate
//!   alike;
//! - `seen`, the greatest stamp written by the *other* side that this side has taken in.
//!
//! A local edit of a field gets a stamp above every stamp this side knows for it ([`bump`]).
//! A message carries the sender's clocks; the receiver keeps, per field, the value with the
//! greater stamp ([`FieldClocks::decide`]) and takes the stamps in ([`FieldClocks::merge`]).
//! That is a last-writer-wins register per field: replicas that have received the same
//! messages hold the same values, in any order of arrival, and a repeated message is a no-op.
//!
//! An edit is concurrent with the receiver's when each side's latest stamp for the field is
//! its own and above what the other had seen of it: the loser's value is reported as a
//! conflict on both sides.
//!
//! [`bump`]: FieldClocks::bump

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Side;

/// One field's versions on one side. See the module documentation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FieldClock {
    pub version: i64,
    pub seen: i64,
}

/// Which of the two stamp families this side writes: the side that wins ties writes odd
/// stamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precedence {
    /// Wins ties (odd stamps): the connection's initiator.
    First,
    /// Loses ties (even stamps).
    Second,
}

impl Precedence {
    fn bit(self) -> i64 {
        match self {
            Precedence::First => 1,
            Precedence::Second => 0,
        }
    }

    /// Whether `stamp` was written by the side with this precedence (0 is nobody's).
    fn wrote(self, stamp: i64) -> bool {
        stamp > 0 && stamp & 1 == self.bit()
    }

    pub fn opposite(self) -> Precedence {
        match self {
            Precedence::First => Precedence::Second,
            Precedence::Second => Precedence::First,
        }
    }
}

/// What to do with one field of an incoming replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whose value the field ends with on both sides.
    pub kept: Side,
    /// Both sides changed it without seeing the other's change: the losing value is reported.
    pub conflict: bool,
    /// Both sides hold the same version: nothing to settle (the rules may still derive the
    /// field from other things).
    pub same: bool,
}

/// A twin's field clocks, by replica field (`customFields.<name>` for one custom field).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldClocks(BTreeMap<String, FieldClock>);

impl FieldClocks {
    pub fn get(&self, field: &str) -> FieldClock {
        self.0.get(field).copied().unwrap_or_default()
    }

    pub fn fields(&self) -> impl Iterator<Item = (&str, FieldClock)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Stamps a local edit of `field`: above every stamp this side knows for it.
    pub fn bump(&mut self, field: &str, me: Precedence) -> i64 {
        let clock = self.0.entry(field.to_owned()).or_default();
        let known = clock.version.max(clock.seen);
        clock.version = (known / 2 + 1) * 2 + me.bit();
        clock.version
    }

    /// How the incoming value of `field` from a remote whose clocks are `remote` is settled
    /// against this side's.
    pub fn decide(&self, remote: &FieldClocks, field: &str, me: Precedence) -> Decision {
        let mine = self.get(field);
        let theirs = remote.get(field);
        // A field neither side has versioned yet (items linked by Connect, which copies
        // nothing) ranks by precedence alone, below every edit: both sides still pick one.
        let rank = |version: i64, side: Precedence| if version == 0 { side.bit() } else { version };
        let kept = if rank(theirs.version, me.opposite()) > rank(mine.version, me) {
            Side::Remote
        } else {
            Side::Local
        };
        // Each side holds an edit of its own the other had not taken in when it wrote.
        let my_unseen = me.wrote(mine.version) && mine.version > theirs.seen;
        let their_unseen = me.opposite().wrote(theirs.version) && theirs.version > mine.seen;
        Decision {
            kept,
            conflict: my_unseen && their_unseen,
            same: mine.version == theirs.version,
        }
    }

    /// Takes in the remote's clocks after its replica was applied: every field ends with the
    /// greater stamp, and what this side has seen of the remote's edits grows.
    pub fn merge(&mut self, remote: &FieldClocks, me: Precedence) {
        for (field, theirs) in &remote.0 {
            let clock = self.0.entry(field.clone()).or_default();
            clock.version = clock.version.max(theirs.version);
            if me.opposite().wrote(theirs.version) {
                clock.seen = clock.seen.max(theirs.version);
            }
        }
    }

    /// As carried in a message and stored with the twin: `{"field": [version, seen]}`.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, c)| (k.clone(), json!([c.version, c.seen])))
                .collect(),
        )
    }

    /// Reads [`FieldClocks::to_json`]'s form; entries that are not a pair of non-negative
    /// integers are refused by name.
    pub fn from_json(value: &Value) -> Result<FieldClocks, String> {
        let Some(map) = value.as_object() else {
            return Err("field versions must be an object".into());
        };
        let mut clocks = BTreeMap::new();
        for (field, pair) in map {
            let parsed = match pair.as_array().map(Vec::as_slice) {
                Some([v, s]) => v.as_i64().zip(s.as_i64()),
                _ => None,
            };
            match parsed {
                Some((version, seen)) if version >= 0 && seen >= 0 => {
                    clocks.insert(field.clone(), FieldClock { version, seen });
                }
                _ => {
                    return Err(format!(
                        "the version of field '{field}' is not a pair of non-negative integers"
                    ));
                }
            }
        }
        Ok(FieldClocks(clocks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: Precedence = Precedence::First;
    const B: Precedence = Precedence::Second;

    /// One side of a twin in these tests: a value per field and its clocks.
    #[derive(Clone, Debug, Default)]
    struct Node {
        values: BTreeMap<String, i64>,
        clocks: FieldClocks,
    }

    impl Node {
        fn edit(&mut self, field: &str, value: i64, me: Precedence) {
            self.values.insert(field.into(), value);
            self.clocks.bump(field, me);
        }

        /// What a message carries: the values and the clocks.
        fn message(&self) -> (BTreeMap<String, i64>, FieldClocks) {
            (self.values.clone(), self.clocks.clone())
        }

        /// Applies a message; returns the fields reported as conflicts.
        fn receive(
            &mut self,
            (values, clocks): &(BTreeMap<String, i64>, FieldClocks),
            me: Precedence,
        ) -> Vec<String> {
            let mut conflicts = Vec::new();
            for (field, value) in values {
                let d = self.clocks.decide(clocks, field, me);
                if d.conflict {
                    conflicts.push(field.clone());
                }
                if d.kept == Side::Remote {
                    self.values.insert(field.clone(), *value);
                }
            }
            self.clocks.merge(clocks, me);
            conflicts
        }
    }

    #[test]
    fn a_change_on_one_side_is_taken_without_a_conflict() {
        let (mut a, mut b) = (Node::default(), Node::default());
        a.edit("summary", 1, A);
        assert!(b.receive(&a.message(), B).is_empty());
        assert_eq!(b.values["summary"], 1);
        // And the answer back changes nothing.
        b.edit("status", 7, B);
        assert!(a.receive(&b.message(), A).is_empty());
        assert_eq!(a.values, b.values);
    }

    #[test]
    fn a_later_edit_that_saw_the_first_is_not_a_conflict() {
        let (mut a, mut b) = (Node::default(), Node::default());
        a.edit("summary", 1, A);
        b.receive(&a.message(), B);
        b.edit("summary", 2, B);
        assert!(a.receive(&b.message(), A).is_empty());
        assert_eq!(a.values["summary"], 2);
    }

    #[test]
    fn concurrent_edits_keep_the_same_value_on_both_sides_and_both_report_it() {
        let (mut a, mut b) = (Node::default(), Node::default());
        a.edit("summary", 1, A);
        b.edit("summary", 2, B);
        let (from_a, from_b) = (a.message(), b.message());
        assert_eq!(a.receive(&from_b, A), vec!["summary"]);
        assert_eq!(b.receive(&from_a, B), vec!["summary"]);
        assert_eq!(a.values, b.values);
        // Equal counters: the first side's stamp is the greater.
        assert_eq!(a.values["summary"], 1);
    }

    #[test]
    fn more_edits_on_one_side_outrank_one_on_the_other() {
        let (mut a, mut b) = (Node::default(), Node::default());
        a.edit("summary", 1, A);
        b.edit("summary", 2, B);
        b.edit("summary", 3, B);
        let (from_a, from_b) = (a.message(), b.message());
        b.receive(&from_a, B);
        a.receive(&from_b, A);
        assert_eq!(a.values["summary"], 3);
        assert_eq!(b.values["summary"], 3);
    }

    #[test]
    fn a_field_neither_side_versioned_keeps_the_first_sides_value_and_any_edit_beats_it() {
        let (mut a, mut b) = (Node::default(), Node::default());
        a.values.insert("summary".into(), 1);
        b.values.insert("summary".into(), 2);
        let (from_a, from_b) = (a.message(), b.message());
        assert!(a.receive(&from_b, A).is_empty());
        assert!(b.receive(&from_a, B).is_empty());
        assert_eq!((a.values["summary"], b.values["summary"]), (1, 1));
        b.edit("summary", 3, B);
        a.receive(&b.message(), A);
        assert_eq!(a.values["summary"], 3);
    }

    #[test]
    fn a_stale_message_arriving_late_changes_nothing() {
        let (mut a, mut b) = (Node::default(), Node::default());
        a.edit("summary", 1, A);
        let old = a.message();
        a.edit("summary", 2, A);
        b.receive(&a.message(), B);
        assert!(b.receive(&old, B).is_empty());
        assert_eq!(b.values["summary"], 2);
    }

    #[test]
    fn clocks_read_back_what_they_wrote_and_refuse_garbage() {
        let mut c = FieldClocks::default();
        c.bump("summary", A);
        c.bump("customFields.Team", B);
        assert_eq!(FieldClocks::from_json(&c.to_json()).unwrap(), c);
        let err = FieldClocks::from_json(&json!({"summary": [1]})).unwrap_err();
        assert!(err.contains("'summary'"), "{err}");
        assert!(FieldClocks::from_json(&json!({"summary": [-1, 0]})).is_err());
        assert!(FieldClocks::from_json(&json!([1, 2])).is_err());
    }

    /// One step of a random run: an edit on a side, or a delivery of the oldest message in
    /// flight towards a side (messages of one direction arrive in order; the two directions
    /// interleave freely).
    #[derive(Clone, Debug)]
    enum Step {
        Edit { on_a: bool, field: u8, value: i64 },
        Deliver { to_a: bool },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (any::<bool>(), 0u8..3, 0i64..5).prop_map(|(on_a, field, value)| Step::Edit {
                on_a,
                field,
                value
            }),
            any::<bool>().prop_map(|to_a| Step::Deliver { to_a }),
        ]
    }

    proptest! {
        /// Whatever the edits and the interleaving, once every message is delivered both
        /// sides hold the same values, and a value is only ever replaced by the other side's
        /// concurrent edit when a conflict is reported.
        #[test]
        fn both_sides_converge_after_every_message_arrives(
            steps in prop::collection::vec(step(), 0..60)
        ) {
            let (mut a, mut b) = (Node::default(), Node::default());
            let (mut to_a, mut to_b) = (Vec::new(), Vec::new());
            for s in steps {
                match s {
                    Step::Edit { on_a: true, field, value } => {
                        a.edit(&field.to_string(), value, A);
                        to_b.push(a.message());
                    }
                    Step::Edit { on_a: false, field, value } => {
                        b.edit(&field.to_string(), value, B);
                        to_a.push(b.message());
                    }
                    Step::Deliver { to_a: true } if !to_a.is_empty() => {
                        let m = to_a.remove(0);
                        a.receive(&m, A);
                    }
                    Step::Deliver { to_a: false } if !to_b.is_empty() => {
                        let m = to_b.remove(0);
                        b.receive(&m, B);
                    }
                    Step::Deliver { .. } => {}
                }
            }
            for m in std::mem::take(&mut to_a) {
                a.receive(&m, A);
            }
            for m in std::mem::take(&mut to_b) {
                b.receive(&m, B);
            }
            prop_assert_eq!(&a.values, &b.values);
            for (field, clock) in a.clocks.fields() {
                prop_assert_eq!(clock.version, b.clocks.get(field).version);
            }
        }
    }
}
