//! Mirror links: what a node that sits on an external tracker (ServiceNow, say) records about the
//! tracker's records it keeps as store items. Each link names one tracker object (a record, a
//! journal entry, an attachment) and the store object that mirrors it, so that reading the
//! tracker again finds the copy it made rather than making another.

use crate::ItemKey;

/// What a mirror link points at on the tracker's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MirrorKind {
    /// A record (a ServiceNow incident, say), mirrored by a store item.
    Record,
    /// A comment (a journal entry), mirrored by a comment of the item.
    Comment,
    /// An attachment, mirrored by an attachment of the item.
    Attachment,
}

impl MirrorKind {
    /// Every kind, in declaration order (the order an item's links are listed in).
    pub const ALL: [MirrorKind; 3] = [
        MirrorKind::Record,
        MirrorKind::Comment,
        MirrorKind::Attachment,
    ];

    /// The lower-case name, as stored: `record`, `comment` or `attachment`.
    pub fn as_str(self) -> &'static str {
        match self {
            MirrorKind::Record => "record",
            MirrorKind::Comment => "comment",
            MirrorKind::Attachment => "attachment",
        }
    }

    /// The kind named by [`MirrorKind::as_str`]; `None` for any other text.
    pub fn parse(text: &str) -> Option<MirrorKind> {
        MirrorKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl std::fmt::Display for MirrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One store object and the tracker object it mirrors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorLink {
    /// Which tracker and table, e.g. "servicenow:incident".
    pub tracker: String,
    pub kind: MirrorKind,
    /// The tracker's id: a record sys_id, a journal entry id, an attachment sys_id.
    pub external_id: String,
    /// The store item: the mirror of the record, or the item the comment or attachment is of.
    pub item: ItemKey,
    /// The comment or attachment id in the store; 0 for a Record link.
    pub local_id: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in MirrorKind::ALL {
            assert_eq!(MirrorKind::parse(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(MirrorKind::Record.as_str(), "record");
        assert_eq!(MirrorKind::Comment.as_str(), "comment");
        assert_eq!(MirrorKind::Attachment.as_str(), "attachment");
        assert_eq!(MirrorKind::parse("Record"), None);
        assert_eq!(MirrorKind::parse(""), None);
    }
}
